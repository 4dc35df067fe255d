package k8sretry

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The linked library answers, and the header copy the module builds with is include/k8sretry.h
// of this repository (make go-lib copies it; a stale copy fails here).
func TestVersion(t *testing.T) {
	if v := Version(); v == "" || strings.ContainsAny(v, " \n") {
		t.Fatalf("version %q", v)
	}
	vendored, err := os.ReadFile(filepath.Join("include", "k8sretry.h"))
	if os.IsNotExist(err) {
		t.Skip("no include/k8sretry.h: built against the system library (-tags k8sretry_system)")
	}
	repo, rerr := os.ReadFile(filepath.Join("..", "include", "k8sretry.h"))
	if err != nil || rerr != nil {
		t.Skipf("outside the repository: %v %v", err, rerr)
	}
	if !bytes.Equal(vendored, repo) {
		t.Fatal("include/k8sretry.h differs from the repository's include/k8sretry.h: run make go-lib")
	}
}
