package k8sretry

/*
#include <stdlib.h>
#include <k8sretry.h>
*/
import "C"

import (
	"unsafe"

	"k8s.io/apimachinery/pkg/types"
)

// PatchType is the patch type of a PATCH as libk8sretry knows it.
type PatchType uint32

// Patch types.
const (
	PatchUnknown   PatchType = C.K8SRETRY_PATCH_NONE // not resent after a lost response
	PatchMerge     PatchType = C.K8SRETRY_PATCH_MERGE
	PatchStrategic PatchType = C.K8SRETRY_PATCH_STRATEGIC
	PatchApply     PatchType = C.K8SRETRY_PATCH_APPLY
	PatchJSON      PatchType = C.K8SRETRY_PATCH_JSON // RFC 6902: not idempotent
)

// PatchTypeOf maps client-go's patch type (its value is the Content-Type client-go sends).
func PatchTypeOf(pt types.PatchType) PatchType {
	return patchTypeOf(string(pt))
}

// patchTypeOf asks libk8sretry for the patch type of a Content-Type header value.
func patchTypeOf(contentType string) PatchType {
	s, n := cstr(contentType)
	var out uint32 // cgo's type for an enum k8sretry_patch_type
	if C.k8sretry_patch_type_of(s, n, &out) != C.K8SRETRY_STATUS_OK {
		return PatchUnknown
	}
	return PatchType(out)
}

// Stamp is what to put on a body before the first attempt.
type Stamp uint32

// Stamps.
const (
	StampNone               Stamp = C.K8SRETRY_STAMP_NONE
	StampAnnotation         Stamp = C.K8SRETRY_STAMP_ANNOTATION
	StampAnnotationAndLabel Stamp = C.K8SRETRY_STAMP_ANNOTATION_AND_LABEL
)

// Request is what a wrapper knows about one request; the zero value of each field is the safe side.
type Request struct {
	Verb            Verb
	Resource        string // a kind, resource or client method name: tells creates that persist nothing
	Named           bool   // the body has metadata.name
	GenerateName    bool   // the body has metadata.generateName and no name
	ResourceVersion bool   // the body has metadata.resourceVersion
	Patch           PatchType
	ObjectBody      bool // a PATCH body known to be a JSON object (not a list): safe to resend whatever its type
	AdoptExisting   bool // opt-in: a create adopts any object already there (unstamped); false stamps and checks
	CanGet          bool // the object can be read back by name
	CanList         bool // the collection can be listed by label
	MissingOK       bool // a delete that accepts a first-attempt NotFound
}

// ChoosePlan asks libk8sretry how r is made safe to resend: the recovery to begin the call with
// and the stamp to put on the body.
func ChoosePlan(r Request) (Recovery, Stamp, error) {
	// The request struct is passed to C, so the string it points to must be C memory.
	resource := C.CString(r.Resource)
	defer C.free(unsafe.Pointer(resource))
	req := C.k8sretry_request{
		verb:             C.uint32_t(r.Verb),
		resource:         resource,
		resource_len:     C.size_t(len(r.Resource)),
		named:            C.bool(r.Named),
		generate_name:    C.bool(r.GenerateName),
		resource_version: C.bool(r.ResourceVersion),
		patch_type:       C.uint32_t(r.Patch),
		object_body:      C.bool(r.ObjectBody),
		adopt_existing:   C.bool(r.AdoptExisting),
		can_get:          C.bool(r.CanGet),
		can_list:         C.bool(r.CanList),
		missing_ok:       C.bool(r.MissingOK),
	}
	var out C.k8sretry_plan
	if err := check(C.k8sretry_plan_choose(&req, &out)); err != nil {
		return RecoveryNone, StampNone, err
	}
	return Recovery(out.recovery), Stamp(out.stamp), nil
}
