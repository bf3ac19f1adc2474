// Package deploy holds brink's deployment files and the tests that check
// them; it has no code of its own.
//
//   - brink.service, brink.env: the systemd unit and its environment file,
//     checked with `systemd-analyze verify` (and `security --offline`)
//     against a freshly built brink.
//   - Dockerfile: a distroless static image; docker cannot run in CI, so
//     the test parses it and checks the base image, the user, the entry
//     point and that the health probe's flags exist in the binary.
//   - k8s/: the sidecar Deployment, its Secret and Services, validated by
//     kubeconform against strict schemas that scripts/install-deploy-deps.sh
//     generates offline (k8sschema/), including deliberately broken copies
//     that must fail.
//
// The tools come from scripts/install-deploy-deps.sh (make deps). A missing
// tool skips its test with the reason, and fails it when BRINK_REQUIRE_E2E=1.
package deploy
