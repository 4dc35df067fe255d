//go:build cgo && k8sretry_system

package k8sretry

// With -tags k8sretry_system the package links the libk8sretry installed on the system (make
// install PREFIX=...), found with pkg-config: PKG_CONFIG_PATH=<prefix>/lib/pkgconfig, and at run
// time LD_LIBRARY_PATH=<prefix>/lib unless the prefix is a system one.

/*
#cgo pkg-config: k8sretry
*/
import "C"
