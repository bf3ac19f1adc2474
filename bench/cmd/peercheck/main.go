// Command peercheck asks two frontend endpoints for the same contexts and
// checks that they enable the same flags, so that bench/compare.sh knows it
// loads two servers with the same work before it measures them.
//
//	peercheck -a 'http://127.0.0.1:3063/api/frontend' -a-auth '*:development.fe123' \
//	          -b 'http://127.0.0.1:3000/proxy' -b-auth proxy-secret -users 8
//
// It prints one line per context and exits 1 when the sets of enabled flag
// names differ for any of them. Differing variant names are reported but do
// not fail the check.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"time"
)

type answer struct {
	Toggles []struct {
		Name    string `json:"name"`
		Variant struct {
			Name string `json:"name"`
		} `json:"variant"`
	} `json:"toggles"`
}

func main() {
	a := flag.String("a", "", "first frontend URL (without query)")
	aAuth := flag.String("a-auth", "", "Authorization header for -a")
	b := flag.String("b", "", "second frontend URL (without query)")
	bAuth := flag.String("b-auth", "", "Authorization header for -b")
	users := flag.Int("users", 8, "number of userIds to compare (user-0 … user-N-1)")
	flag.Parse()
	if *a == "" || *b == "" {
		flag.Usage()
		os.Exit(2)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	bad := 0
	for i := range *users {
		q := "?userId=user-" + strconv.Itoa(i) + "&sessionId=" + strconv.Itoa(1000000+i)
		ma, sa, err := fetch(client, *a+q, *aAuth)
		if err != nil {
			fail(err)
		}
		mb, sb, err := fetch(client, *b+q, *bAuth)
		if err != nil {
			fail(err)
		}
		names := func(m map[string]string) []string {
			ns := make([]string, 0, len(m))
			for n := range m {
				ns = append(ns, n)
			}
			slices.Sort(ns)
			return ns
		}
		na, nb := names(ma), names(mb)
		status := "same"
		if !slices.Equal(na, nb) {
			status = "DIFFERENT"
			bad++
		}
		variants := 0
		for n, v := range ma {
			if w, ok := mb[n]; ok && w != v {
				variants++
			}
		}
		fmt.Printf("peercheck: user-%d: %s enabled set (%d vs %d flags), %d variant names differ, answers %d vs %d bytes\n",
			i, status, len(na), len(nb), variants, sa, sb)
		if status != "same" {
			fmt.Printf("peercheck:   only in a: %v\n", minus(na, nb))
			fmt.Printf("peercheck:   only in b: %v\n", minus(nb, na))
		}
	}
	if bad > 0 {
		os.Exit(1)
	}
}

func fetch(c *http.Client, url, auth string) (map[string]string, int, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Authorization", auth)
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("reading %s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("GET %s: status %d: %.200s", url, resp.StatusCode, body)
	}
	var ans answer
	if err := json.Unmarshal(body, &ans); err != nil {
		return nil, 0, fmt.Errorf("decoding %s: %w", url, err)
	}
	m := make(map[string]string, len(ans.Toggles))
	for _, t := range ans.Toggles {
		m[t.Name] = t.Variant.Name
	}
	return m, len(body), nil
}

func minus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "peercheck:", err)
	os.Exit(2)
}
