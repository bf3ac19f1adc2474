package flags

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
)

// rawFeatures is the JSON the features of a ClientFeatures were decoded
// from: raws[i] (hashed to hashes[i]) decoded to Features[i] when the
// slice still starts at first and has n elements.
type rawFeatures struct {
	first  *Feature
	n      int
	raws   [][]byte
	hashes []uint64
}

var rawSeed = maphash.MakeSeed()

// rawOf returns cf's raw feature JSON when it still describes cf.Features.
func rawOf(cf *ClientFeatures) *rawFeatures {
	if cf == nil || cf.raw == nil || cf.raw.n != len(cf.Features) || cf.raw.n == 0 || cf.raw.first != &cf.Features[0] {
		return nil
	}
	return cf.raw
}

// DecodeClientFeaturesFrom decodes data as DecodeClientFeatures does (the
// same result, the same errors) but decodes only the features whose JSON
// differs from that of a feature of prev, the result of an earlier
// DecodeClientFeaturesFrom: the others are copies of prev's features,
// sharing their slices, maps and pointers, which CompileFrom and Diff
// then recognise in constant time. prev may be nil. Neither prev nor data
// may be modified afterwards: the result keeps slices of data.
func DecodeClientFeaturesFrom(prev *ClientFeatures, data []byte) (*ClientFeatures, error) {
	if cf, ok := decodeFrom(prev, data); ok {
		return cf, nil
	}
	return DecodeClientFeatures(data)
}

// decodeFrom is DecodeClientFeaturesFrom's fast path; false means: decode
// data in full (it may be malformed, or unusual enough not to bother).
func decodeFrom(prev *ClientFeatures, data []byte) (*ClientFeatures, bool) {
	arrStart, arrEnd, elems, ok := splitFeatures(data)
	if !ok {
		return nil, false
	}
	// Everything but the features array is decoded, and validated, by
	// encoding/json with the array replaced by null.
	skel := make([]byte, 0, len(data)-(arrEnd-arrStart)+4)
	skel = append(append(append(skel, data[:arrStart]...), "null"...), data[arrEnd:]...)
	var cf ClientFeatures
	if json.Unmarshal(skel, &cf) != nil || cf.Features != nil {
		return nil, false
	}
	pr := rawOf(prev)
	var byHash map[uint64]int
	raw := &rawFeatures{n: len(elems), raws: make([][]byte, len(elems)), hashes: make([]uint64, len(elems))}
	cf.Features = make([]Feature, len(elems))
	for k, e := range elems {
		b := data[e.start:e.end:e.end]
		h := maphash.Bytes(rawSeed, b)
		raw.raws[k], raw.hashes[k] = b, h
		if pr != nil {
			j := -1
			if k < pr.n && pr.hashes[k] == h && bytes.Equal(pr.raws[k], b) {
				j = k
			} else {
				if byHash == nil {
					byHash = make(map[uint64]int, pr.n)
					for i, ph := range pr.hashes {
						byHash[ph] = i
					}
				}
				if i, ok := byHash[h]; ok && bytes.Equal(pr.raws[i], b) {
					j = i
				}
			}
			if j >= 0 {
				cf.Features[k] = prev.Features[j]
				continue
			}
		}
		if json.Unmarshal(b, &cf.Features[k]) != nil {
			return nil, false
		}
	}
	if len(elems) > 0 {
		raw.first = &cf.Features[0]
		cf.raw = raw
	}
	return &cf, true
}

// splitFeatures finds the value of the top-level member "features" of
// data, which must be an array, and its elements. It is a skip-scanner:
// it follows strings and nesting but leaves validation to encoding/json,
// and gives up (false) on anything unusual: no such member or more than
// one, a top-level key with an escape or a non-ASCII byte or equal to
// "features" but for case (encoding/json would match it too).
func splitFeatures(data []byte) (arrStart, arrEnd int, elems []span, ok bool) {
	i := skipWS(data, 0)
	if i >= len(data) || data[i] != '{' {
		return 0, 0, nil, false
	}
	i = skipWS(data, i+1)
	found := false
	for i < len(data) && data[i] != '}' {
		if data[i] != '"' {
			return 0, 0, nil, false
		}
		ks := i + 1
		ke := ks
		for ke < len(data) && data[ke] != '"' {
			if c := data[ke]; c == '\\' || c >= 0x80 || c < 0x20 {
				return 0, 0, nil, false
			}
			ke++
		}
		if ke >= len(data) {
			return 0, 0, nil, false
		}
		key := data[ks:ke]
		i = skipWS(data, ke+1)
		if i >= len(data) || data[i] != ':' {
			return 0, 0, nil, false
		}
		i = skipWS(data, i+1)
		switch {
		case string(key) == "features":
			if found || i >= len(data) || data[i] != '[' {
				return 0, 0, nil, false
			}
			found = true
			arrStart = i
			i = skipWS(data, i+1)
			elems = make([]span, 0, 1024)
			if i < len(data) && data[i] == ']' {
				i++
			} else {
				for {
					end, ok := skipValue(data, i)
					if !ok {
						return 0, 0, nil, false
					}
					elems = append(elems, span{i, end})
					i = skipWS(data, end)
					if i >= len(data) {
						return 0, 0, nil, false
					}
					if data[i] == ']' {
						i++
						break
					}
					if data[i] != ',' {
						return 0, 0, nil, false
					}
					i = skipWS(data, i+1)
				}
			}
			arrEnd = i
		case bytes.EqualFold(key, []byte("features")):
			return 0, 0, nil, false
		default:
			end, ok := skipValue(data, i)
			if !ok {
				return 0, 0, nil, false
			}
			i = end
		}
		i = skipWS(data, i)
		if i < len(data) && data[i] == ',' {
			i = skipWS(data, i+1)
			if i >= len(data) || data[i] != '"' {
				return 0, 0, nil, false
			}
		}
	}
	return arrStart, arrEnd, elems, found
}

func skipWS(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue returns the end of the JSON value starting at i: a string, an
// object or array (strings inside followed, brackets matched), or a run of
// scalar bytes. It does not validate.
func skipValue(data []byte, i int) (int, bool) {
	if i >= len(data) {
		return 0, false
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		var stack [64]byte
		depth := 0
		for i < len(data) {
			switch c := data[i]; c {
			case '"':
				end, ok := skipString(data, i)
				if !ok {
					return 0, false
				}
				i = end
				continue
			case '{', '[':
				if depth == len(stack) {
					return 0, false
				}
				stack[depth] = c + 2 // '{'+2 == '}', '['+2 == ']'
				depth++
			case '}', ']':
				if depth == 0 || stack[depth-1] != c {
					return 0, false
				}
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	case ',', ':', '}', ']':
		return 0, false
	}
	start := i
	for i < len(data) {
		switch data[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r', '"', '{', '[', ':':
			if i == start {
				return 0, false
			}
			return i, true
		}
		i++
	}
	return i, i > start
}

// skipString returns the end of the string starting at data[i] == '"'.
func skipString(data []byte, i int) (int, bool) {
	i++
	for i < len(data) {
		switch data[i] {
		case '"':
			return i + 1, true
		case '\\':
			i += 2
			continue
		}
		i++
	}
	return 0, false
}
