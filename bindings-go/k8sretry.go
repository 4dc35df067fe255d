// Package k8sretry is the Go face of the k8sretry engine: retries for Kubernetes API calls with
// the same decisions as every other k8sretry binding, because the decisions are made by
// libk8sretry. Go only extracts a Failure from an error, sleeps, and calls again.
//
//	policy, _ := k8sretry.Preset("default")
//	err := k8sretry.Do(ctx, policy, func(ctx context.Context) error {
//		_, err := clientset.CoreV1().Pods("default").Get(ctx, "web-0", metav1.GetOptions{})
//		return err
//	}, k8sretry.WithVerb(k8sretry.VerbGet))
//
// Build: cgo is required (CGO_ENABLED=1 and a C compiler). By default the package links the
// static libk8sretry.a shipped in this module (lib/GOOS_GOARCH/); with -tags k8sretry_system it
// links a libk8sretry installed on the system, found with pkg-config.
package k8sretry

/*
#include <stdlib.h>
#include <k8sretry.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// Version is the version of the linked libk8sretry.
func Version() string { return C.GoString(C.k8sretry_version()) }

// StatusError is a failure status from libk8sretry (bad input, never a retry decision).
type StatusError struct {
	Code    int
	Message string
	Detail  string
}

func (e *StatusError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("k8sretry: %s: %s", e.Message, e.Detail)
	}
	return "k8sretry: " + e.Message
}

// ErrInvalidPolicy is matched (errors.Is) by errors from PolicyFromJSON and Preset.
var ErrInvalidPolicy = errors.New("k8sretry: invalid policy")

// ErrOutOfOrder is matched (errors.Is) by errors from Call steps the call did not ask for (a
// read-back result while none is pending, a failure while one is, any step after the end).
var ErrOutOfOrder = errors.New("k8sretry: call step out of order")

func (e *StatusError) Is(target error) bool {
	switch target {
	case ErrInvalidPolicy:
		return e.Code == int(C.K8SRETRY_STATUS_INVALID_POLICY) || e.Code == int(C.K8SRETRY_STATUS_UNKNOWN_PRESET)
	case ErrOutOfOrder:
		return e.Code == int(C.K8SRETRY_STATUS_OUT_OF_ORDER) || e.Code == int(C.K8SRETRY_STATUS_CALL_FINISHED)
	}
	return false
}

// check turns a status into an error; cgo types `enum k8sretry_status` returns as uint32.
func check[S ~uint32 | ~int32](status S) error {
	if status == S(C.K8SRETRY_STATUS_OK) {
		return nil
	}
	return &StatusError{Code: int(status), Message: C.GoString(C.k8sretry_status_message(C.uint32_t(status)))}
}

// cstr passes a Go string to C as (pointer, length) without copying; C copies what it keeps.
func cstr(s string) (*C.char, C.size_t) {
	return (*C.char)(unsafe.Pointer(unsafe.StringData(s))), C.size_t(len(s))
}

// MetricsText returns all metrics of this process in Prometheus text format.
func MetricsText() string {
	var out *C.char
	if check(C.k8sretry_metrics_text(&out)) != nil {
		return ""
	}
	defer C.k8sretry_string_free(out)
	return C.GoString(out)
}
