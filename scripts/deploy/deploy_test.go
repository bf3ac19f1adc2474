package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// repoRoot is the repository root, two levels up from this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s: %v", root, err)
	}
	return root
}

// needTool skips (or, under BRINK_REQUIRE_E2E=1, fails) when a tool the
// test needs is missing.
func needTool(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("BRINK_REQUIRE_E2E") == "1" {
		t.Fatalf("%s (BRINK_REQUIRE_E2E=1; run scripts/install-deploy-deps.sh)", why)
	}
	t.Skipf("%s: run scripts/install-deploy-deps.sh (make deps)", why)
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// brinkBinary builds cmd/brink once per test run (BRINK_BIN overrides).
func brinkBinary(t *testing.T) string {
	t.Helper()
	if b := os.Getenv("BRINK_BIN"); b != "" {
		if !filepath.IsAbs(b) {
			b = filepath.Join(repoRoot(t), b) // as `make` would see it
		}
		return b
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "brink-deploy-test")
		if err != nil {
			buildErr = err
			return
		}
		built = filepath.Join(dir, "brink")
		cmd := exec.Command("go", "build", "-o", built, "./cmd/brink")
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New("go build ./cmd/brink: " + err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built != "" {
		os.RemoveAll(filepath.Dir(built))
	}
	os.Exit(code)
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// --- systemd ------------------------------------------------------------------------

// verifyUnit runs systemd-analyze verify on unit (text) installed under
// the name brink.service in a temp dir, with ExecStart pointing at bin.
// Any output is a problem: verify reports unknown keys as warnings with
// exit status 0.
func verifyUnit(t *testing.T, unit, bin string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	unit = strings.Replace(unit, "ExecStart=/usr/local/bin/brink ", "ExecStart="+bin+" ", 1)
	path := filepath.Join(dir, "brink.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("systemd-analyze", "verify", path)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_COLOR=0", "SYSTEMD_PAGER=")
	out, err := cmd.CombinedOutput()
	if err == nil && len(bytes.TrimSpace(out)) > 0 {
		err = errors.New("warnings")
	}
	return string(out), err
}

func TestSystemdUnit(t *testing.T) {
	unit := read(t, "brink.service")
	for _, want := range []string{
		"ExecStart=/usr/local/bin/brink relay\n",
		"EnvironmentFile=/etc/brink/brink.env\n",
		"User=brink\n",
		"Restart=on-failure\n",
		"AmbientCapabilities=CAP_NET_BIND_SERVICE CAP_BPF CAP_NET_ADMIN CAP_PERFMON\n",
		"CapabilityBoundingSet=CAP_NET_BIND_SERVICE CAP_BPF CAP_NET_ADMIN CAP_PERFMON\n",
		"NoNewPrivileges=yes\n",
		"ProtectSystem=strict\n",
		"StateDirectory=brink\n",
		"SystemCallFilter=@system-service bpf\n",
		"WantedBy=multi-user.target\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("brink.service lacks %q", strings.TrimSpace(want))
		}
	}
	// Settings that would take the eBPF capabilities away.
	for _, bad := range []string{"\nPrivateUsers=", "\nDynamicUser=yes", "\nProcSubset=pid"} {
		if strings.Contains(unit, bad) {
			t.Errorf("brink.service sets %s, which breaks eBPF capture", strings.TrimSpace(bad))
		}
	}

	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		needTool(t, "systemd-analyze not found")
	}
	bin := brinkBinary(t)
	if out, err := verifyUnit(t, unit, bin); err != nil {
		t.Fatalf("systemd-analyze verify brink.service: %v\n%s", err, out)
	}
	// The check can fail: a misspelt key, a missing binary, a bad value.
	for _, tc := range []struct{ name, from, to string }{
		{"unknown key", "ProtectSystem=strict", "ProtectSytem=strict"},
		{"missing binary", "ExecStart=/usr/local/bin/brink relay", "ExecStart=/nonexistent/brink relay"},
		{"bad value", "Restart=on-failure", "Restart=sometimes"},
	} {
		broken := strings.Replace(unit, tc.from, tc.to, 1)
		if out, err := verifyUnit(t, broken, bin); err == nil {
			t.Errorf("%s: systemd-analyze verify passed a broken unit:\n%s", tc.name, out)
		}
	}

	// The hardening keeps the exposure score low (0 best, 10 worst).
	path := filepath.Join(t.TempDir(), "brink.service")
	if err := os.WriteFile(path, []byte(strings.Replace(unit, "/usr/local/bin/brink", bin, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "security", "--offline=yes", "--no-pager", path).CombinedOutput()
	if strings.Contains(string(out), "unrecognized option") {
		t.Logf("systemd-analyze security --offline is not supported by this systemd (< 250): %s", out)
		return
	}
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Overall exposure level for brink\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("systemd-analyze security: exposure %.1f", score)
	if score > 3.0 {
		t.Errorf("exposure level %.1f, want at most 3.0 (was 2.0 when written)", score)
	}
}

func TestEnvFile(t *testing.T) {
	set := map[string]string{}
	commented := map[string]bool{}
	for i, line := range strings.Split(read(t, "brink.env"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if c, ok := strings.CutPrefix(line, "#"); ok {
			if k, _, ok := strings.Cut(strings.TrimSpace(c), "="); ok && strings.ToUpper(k) == k && !strings.Contains(k, " ") {
				commented[k] = true
			}
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			t.Errorf("brink.env:%d: %q is not NAME=value", i+1, line)
			continue
		}
		set[k] = v
	}
	for _, k := range []string{"PORT", "OCTET_URL", "LICENSE", "EDGE_TLS_CERT_FILE", "EDGE_TLS_KEY_FILE"} {
		if set[k] == "" {
			t.Errorf("brink.env does not set %s", k)
		}
	}
	if set["PORT"] != "443" {
		t.Errorf("PORT=%s, want 443 as the seed shows", set["PORT"])
	}
	for _, k := range []string{"OCTET_CA_FILE", "EDGE_CLIENT_CERT_FILE", "EDGE_CLIENT_KEY_FILE"} {
		if set[k] != "" || !commented[k] {
			t.Errorf("brink.env: %s should be present but commented out (inert until provisioned)", k)
		}
	}
	// The spool lives in the unit's StateDirectory, the one writable place.
	if d := set["BRINK_RELAY__SPOOL_DIR"]; !strings.HasPrefix(d, "/var/lib/brink/") {
		t.Errorf("BRINK_RELAY__SPOOL_DIR=%q, want a folder under /var/lib/brink (StateDirectory=brink)", d)
	}
	if len(set) != 6 {
		t.Errorf("brink.env sets %d variables, want the seed's 5 and the spool folder: %v", len(set), set)
	}
}

// --- Dockerfile -------------------------------------------------------------------

type instruction struct {
	cmd, args string
	line      int
}

// parseDockerfile splits text into instructions, joining continuation
// lines and dropping comments.
func parseDockerfile(text string) []instruction {
	var out []instruction
	var cur strings.Builder
	start := 0
	for i, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasPrefix(trimmed, "#") {
			continue // a comment inside a continuation
		}
		if s, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{strings.ToUpper(cmd), strings.TrimSpace(args), start})
		cur.Reset()
	}
	return out
}

// execForm parses an instruction's JSON array form, or returns nil.
func execForm(args string) []string {
	var v []string
	if json.Unmarshal([]byte(args), &v) != nil {
		return nil
	}
	return v
}

// checkDockerfile returns what is wrong with the Dockerfile text.
func checkDockerfile(text string) []string {
	var problems []string
	seen := map[string][]instruction{}
	for _, in := range parseDockerfile(text) {
		seen[in.cmd] = append(seen[in.cmd], in)
	}
	one := func(cmd string) (instruction, bool) {
		l := seen[cmd]
		if len(l) != 1 {
			problems = append(problems, cmd+": want exactly one, have "+strconv.Itoa(len(l)))
			return instruction{}, false
		}
		return l[0], true
	}
	if in, ok := one("FROM"); ok && in.args != "gcr.io/distroless/static-debian12:nonroot" {
		problems = append(problems, "FROM "+in.args+": want gcr.io/distroless/static-debian12:nonroot")
	}
	if in, ok := one("USER"); ok && in.args != "65532" && in.args != "65532:65532" {
		problems = append(problems, "USER "+in.args+": want the distroless nonroot user 65532")
	}
	if in, ok := one("ENTRYPOINT"); ok {
		if v := execForm(in.args); len(v) != 1 || v[0] != "/brink" {
			problems = append(problems, "ENTRYPOINT "+in.args+`: want ["/brink"] (exec form: no shell in distroless)`)
		}
	}
	if in, ok := one("CMD"); ok {
		if v := execForm(in.args); len(v) != 1 || v[0] != "relay" {
			problems = append(problems, "CMD "+in.args+`: want ["relay"]`)
		}
	}
	if in, ok := one("COPY"); ok && in.args != "dist/brink-linux-${TARGETARCH} /brink" {
		problems = append(problems, "COPY "+in.args+": want dist/brink-linux-${TARGETARCH} /brink (make release's output)")
	}
	if in, ok := one("HEALTHCHECK"); ok {
		_, c, _ := strings.Cut(in.args, "CMD ")
		if v := execForm(c); len(v) < 2 || v[0] != "/brink" || v[1] != "health" {
			problems = append(problems, "HEALTHCHECK "+in.args+`: want CMD ["/brink", "health", ...] (exec form)`)
		}
	}
	if len(seen["RUN"]) > 0 {
		problems = append(problems, "RUN: distroless has no shell to run it")
	}
	if in, ok := one("EXPOSE"); ok && !strings.Contains(" "+in.args+" ", " 8080 ") {
		problems = append(problems, "EXPOSE "+in.args+": want 8080 (the default PORT)")
	}
	return problems
}

func TestDockerfile(t *testing.T) {
	text := read(t, "Dockerfile")
	if p := checkDockerfile(text); len(p) > 0 {
		t.Fatalf("Dockerfile:\n%s", strings.Join(p, "\n"))
	}
	// make release writes the binaries the COPY line names.
	mk := read(t, filepath.Join(repoRoot(t), "Makefile"))
	for _, want := range []string{"for arch in amd64 arm64", "-o dist/brink-linux-$$arch", "CGO_ENABLED=0", "-trimpath"} {
		if !strings.Contains(mk, want) {
			t.Errorf("Makefile release target lacks %q", want)
		}
	}
	// The checker catches a broken file.
	for _, tc := range []struct{ from, to string }{
		{"static-debian12:nonroot", "static-debian12"},
		{"USER 65532:65532", "USER root"},
		{`ENTRYPOINT ["/brink"]`, "ENTRYPOINT /brink"},
		{`CMD ["relay"]`, `CMD ["edge"]`},
		{`CMD ["/brink", "health"`, `CMD ["/bin/sh", "-c"`},
		{"EXPOSE 8080 8443", "EXPOSE 8443\nRUN chmod +x /brink"},
	} {
		if !strings.Contains(text, tc.from) {
			t.Fatalf("Dockerfile no longer contains %q: update this test", tc.from)
		}
		if p := checkDockerfile(strings.Replace(text, tc.from, tc.to, 1)); len(p) == 0 {
			t.Errorf("replacing %q by %q went unnoticed", tc.from, tc.to)
		}
	}
	// The probe's flags exist in the binary.
	in := parseDockerfile(text)
	var probe []string
	for _, i := range in {
		if i.cmd == "HEALTHCHECK" {
			_, c, _ := strings.Cut(i.args, "CMD ")
			probe = execForm(c)
		}
	}
	help, _ := exec.Command(brinkBinary(t), "health", "--help").CombinedOutput()
	for _, a := range probe[2:] {
		if strings.HasPrefix(a, "--") && !strings.Contains(string(help), a) {
			t.Errorf("HEALTHCHECK uses %s, which `brink health --help` does not list:\n%s", a, help)
		}
	}
}

// --- Kubernetes ------------------------------------------------------------------

// kubeconform returns the validator and its schema template, or skips.
func kubeconform(t *testing.T) (bin, schemas string) {
	t.Helper()
	root := repoRoot(t)
	m := regexp.MustCompile(`(?m)^K8S_VERSION=([0-9.]+)`).FindStringSubmatch(read(t, filepath.Join(root, "scripts/install-deploy-deps.sh")))
	if m == nil {
		t.Fatal("scripts/install-deploy-deps.sh pins no K8S_VERSION")
	}
	dir := filepath.Join(root, ".cache", "k8s-schemas", "v"+m[1])
	bin = filepath.Join(root, ".cache", "bin", "kubeconform")
	if _, err := os.Stat(bin); err != nil {
		if bin, err = exec.LookPath("kubeconform"); err != nil {
			needTool(t, "kubeconform not found")
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "deployment-apps-v1.json")); err != nil {
		needTool(t, "Kubernetes schemas not found in "+dir)
	}
	return bin, filepath.Join(dir, "{{ .ResourceKind }}{{ .KindSuffix }}.json")
}

func validate(t *testing.T, bin, schemas string, paths ...string) (string, error) {
	t.Helper()
	args := append([]string{"-strict", "-summary", "-schema-location", schemas}, paths...)
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

func TestKubernetesManifests(t *testing.T) {
	dep := read(t, "k8s/deployment.yaml")
	for _, want := range []string{
		"Ingress TLS termination weakens the signal",
		"TLS passthrough",
		"- name: brink\n",
		"args: [\"relay\"]",
		"name: LICENSE\n              valueFrom:\n                secretKeyRef:\n                  name: brink-secrets",
		"name: EDGE_TLS_CERT_FILE",
		"name: EDGE_TLS_KEY_FILE",
		"secretName: brink-tls",
		"name: BRINK_RELAY__SPOOL_DIR\n              value: /var/lib/brink/spool",
		"mountPath: /var/lib/brink\n",
		"readinessProbe:",
		"livenessProbe:",
		"runAsNonRoot: true",
	} {
		if !strings.Contains(dep, want) {
			t.Errorf("k8s/deployment.yaml lacks %q", want)
		}
	}
	if sec := read(t, "k8s/secret.yaml"); !strings.Contains(sec, "LICENSE:") || !strings.Contains(sec, "kind: Secret") {
		t.Error("k8s/secret.yaml does not hold LICENSE in a Secret")
	}

	bin, schemas := kubeconform(t)
	out, err := validate(t, bin, schemas, "k8s")
	if err != nil {
		t.Fatalf("kubeconform k8s/: %v\n%s", err, out)
	}
	if !strings.Contains(out, "4 resources found in 3 files - Valid: 4, Invalid: 0, Errors: 0, Skipped: 0") {
		t.Errorf("kubeconform summary: %s", out)
	}

	// Broken copies must fail, each for its reason.
	tests := []struct {
		name, from, to, want string
	}{
		{"misspelt field", "      containers:", "      contianers:", "additional properties 'contianers' not allowed"},
		{"wrong type", "containerPort: 8443", `containerPort: "8443"`, "want integer"},
		{"missing required field", "  selector:\n    matchLabels:", "  selectorx:\n    matchLabels:", "missing property 'selector'"},
		{"unknown kind", "kind: Deployment", "kind: Deploymnet", "could not find schema"},
		{"bad YAML", "  replicas: 2", "  replicas: [2", ""},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		if !strings.Contains(dep, tt.from) {
			t.Fatalf("%s: deployment.yaml no longer contains %q: update this test", tt.name, tt.from)
		}
		path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-")+".yaml")
		if err := os.WriteFile(path, []byte(strings.Replace(dep, tt.from, tt.to, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := validate(t, bin, schemas, path)
		if err == nil {
			t.Errorf("%s: kubeconform passed a broken manifest:\n%s", tt.name, out)
			continue
		}
		if !strings.Contains(out, tt.want) {
			t.Errorf("%s: kubeconform failed without saying %q:\n%s", tt.name, tt.want, out)
		}
	}
}

func TestSchemaGenerator(t *testing.T) {
	_, schemas := kubeconform(t)
	b, err := os.ReadFile(strings.Replace(schemas, "{{ .ResourceKind }}{{ .KindSuffix }}", "deployment-apps-v1", 1))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Properties map[string]struct {
			Enum []string `json:"enum"`
		} `json:"properties"`
		AdditionalProperties *bool          `json:"additionalProperties"`
		Definitions          map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	if e := s.Properties["kind"].Enum; len(e) != 1 || e[0] != "Deployment" {
		t.Errorf("kind enum %v, want [Deployment]", e)
	}
	if e := s.Properties["apiVersion"].Enum; len(e) != 1 || e[0] != "apps/v1" {
		t.Errorf("apiVersion enum %v, want [apps/v1]", e)
	}
	if s.AdditionalProperties == nil || *s.AdditionalProperties {
		t.Error("the root schema admits unknown fields; want additionalProperties false")
	}
	if _, ok := s.Definitions["io.k8s.api.core.v1.PodSpec"]; !ok {
		t.Error("PodSpec is not among the reachable definitions")
	}
}
