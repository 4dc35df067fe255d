//go:build !cgo

// Package k8sretry needs cgo: it calls libk8sretry, the engine every k8sretry binding shares.
package k8sretry

// Built with CGO_ENABLED=0: the compiler names the fix. Build with CGO_ENABLED=1 and a C compiler.
var _ = k8sretry_requires_cgo__set_CGO_ENABLED_1
