//go:build cgo && !k8sretry_system && !(linux && amd64) && !(linux && arm64) && !(darwin && amd64) && !(darwin && arm64)

package k8sretry

// No prebuilt libk8sretry.a for this GOOS/GOARCH: the compiler names the fix. Build libk8sretry
// for the platform, install it, and build with -tags k8sretry_system (pkg-config).
var _ = k8sretry_has_no_prebuilt_library_for_this_GOOS_GOARCH__build_with_tags_k8sretry_system
