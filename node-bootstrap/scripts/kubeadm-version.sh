set -euo pipefail
# Prints the installed kubeadm's version, e.g. v1.33.4 (the golden image pins it).
command -v kubeadm >/dev/null || fail "kubeadm is not installed; use the golden image (tart-infra image build)"
kubeadm version -o short
