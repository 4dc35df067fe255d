//go:build cgo && !k8sretry_system

package k8sretry

// The default build links the static libk8sretry.a shipped in this module for the target
// platform, with the copy of k8sretry.h in include/: nothing needs to be installed but a C
// compiler. Build with -tags k8sretry_system to link a system libk8sretry (pkg-config) instead.
//
// Libraries: lib/linux_amd64 ships today; lib/linux_arm64, lib/darwin_amd64 and lib/darwin_arm64
// are read from the same place once they are built (make go-lib copies every one it finds).

/*
#cgo CFLAGS: -I${SRCDIR}/include
#cgo linux,amd64 LDFLAGS: ${SRCDIR}/lib/linux_amd64/libk8sretry.a -lpthread -ldl -lm -lrt -lutil
#cgo linux,arm64 LDFLAGS: ${SRCDIR}/lib/linux_arm64/libk8sretry.a -lpthread -ldl -lm -lrt -lutil
#cgo darwin,amd64 LDFLAGS: ${SRCDIR}/lib/darwin_amd64/libk8sretry.a -lc -lm
#cgo darwin,arm64 LDFLAGS: ${SRCDIR}/lib/darwin_arm64/libk8sretry.a -lc -lm
*/
import "C"
