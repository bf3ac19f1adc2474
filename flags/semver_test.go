package flags

import "testing"

func TestParseSemver(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		want semver
	}{
		{"1.2.3", true, semver{1, 2, 3, ""}},
		{"0.0.0", true, semver{0, 0, 0, ""}},
		{"10.20.30-alpha.1", true, semver{10, 20, 30, "alpha.1"}},
		{"1.0.0-0.3.7", true, semver{1, 0, 0, "0.3.7"}},
		{"1.0.0-x-y-z.--", true, semver{1, 0, 0, "x-y-z.--"}},
		{"1.0.0+build.01", true, semver{1, 0, 0, ""}},
		{"1.0.0-rc.1+build.1", true, semver{1, 0, 0, "rc.1"}},
		{"v1.2.3", false, semver{}},
		{"1.2", false, semver{}},
		{"1.2.3.4", false, semver{}},
		{"01.2.3", false, semver{}},
		{"1.02.3", false, semver{}},
		{"1.2.3-01", false, semver{}},
		{"1.2.3-", false, semver{}},
		{"1.2.3-a..b", false, semver{}},
		{"1.2.3+", false, semver{}},
		{"1.2.3-a_b", false, semver{}},
		{" 1.2.3", false, semver{}},
		{"", false, semver{}},
		{"not a semver", false, semver{}},
		{"99999999999999999999.0.0", false, semver{}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseSemver(tt.in)
			if ok != tt.ok || (ok && got != tt.want) {
				t.Errorf("parseSemver(%q) = %+v, %v, want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestCompareSemver(t *testing.T) {
	// Ascending per semver 2.0 §11.
	order := []string{
		"1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta",
		"1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "2.0.0-0", "2.0.0",
		"10.0.0",
	}
	for i := range order {
		for j := range order {
			a, _ := parseSemver(order[i])
			b, _ := parseSemver(order[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := compareSemver(a, b); got != want {
				t.Errorf("compareSemver(%q, %q) = %d, want %d", order[i], order[j], got, want)
			}
		}
	}
	a, _ := parseSemver("1.0.0+a")
	b, _ := parseSemver("1.0.0+b")
	if compareSemver(a, b) != 0 {
		t.Errorf("build metadata must not affect precedence")
	}
}
