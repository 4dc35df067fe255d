package k8sretry

/*
#include <k8sretry.h>
*/
import "C"

import (
	"runtime"
	"time"
)

// Presets are the preset names every k8sretry binding knows, as libk8sretry lists them.
var Presets = presetNames()

func presetNames() []string {
	var names []string
	for i := 0; ; i++ {
		name := C.k8sretry_preset_name(C.size_t(i))
		if name == nil {
			return names
		}
		names = append(names, C.GoString(name))
	}
}

// Policy is an immutable retry policy, safe for concurrent use. Its budget and breaker are
// shared by every call made with it.
type Policy struct {
	ptr *C.k8sretry_policy
}

func newPolicy(ptr *C.k8sretry_policy) *Policy {
	p := &Policy{ptr: ptr}
	runtime.SetFinalizer(p, func(p *Policy) { C.k8sretry_policy_free(p.ptr) })
	return p
}

// Preset returns the preset named name (see Presets).
func Preset(name string) (*Policy, error) {
	var ptr *C.k8sretry_policy
	s, n := cstr(name)
	if err := check(C.k8sretry_policy_new_preset(s, n, &ptr)); err != nil {
		err.(*StatusError).Detail = name
		return nil, err
	}
	return newPolicy(ptr), nil
}

// PolicyOption changes how PolicyFromJSON builds a policy.
type PolicyOption func(*policyOptions)

type policyOptions struct{ clock *ManualClock }

// WithClock makes the policy read a manual clock (tests, conformance vectors).
func WithClock(c *ManualClock) PolicyOption { return func(o *policyOptions) { o.clock = c } }

// PolicyFromJSON builds a policy from the JSON every k8sretry binding reads (DESIGN §6).
// Errors name the offending key and match ErrInvalidPolicy.
func PolicyFromJSON(text string, opts ...PolicyOption) (*Policy, error) {
	var o policyOptions
	for _, opt := range opts {
		opt(&o)
	}
	var clock *C.k8sretry_clock
	if o.clock != nil {
		clock = o.clock.ptr
	}
	var ptr *C.k8sretry_policy
	var msg [512]C.char
	s, n := cstr(text)
	status := C.k8sretry_policy_from_json(s, n, clock, &ptr, &msg[0], C.size_t(len(msg)))
	runtime.KeepAlive(o.clock)
	if err := check(status); err != nil {
		err.(*StatusError).Detail = C.GoString(&msg[0])
		return nil, err
	}
	return newPolicy(ptr), nil
}

// MaxRetries is the number of retries after the first attempt.
func (p *Policy) MaxRetries() int {
	var n C.uint32_t
	C.k8sretry_policy_max_retries(p.ptr, &n)
	runtime.KeepAlive(p)
	return int(n)
}

// ManualClock is a clock that moves only when advanced; for tests and vectors.
type ManualClock struct{ ptr *C.k8sretry_clock }

// NewManualClock returns a clock standing at startUnix seconds since the Unix epoch.
func NewManualClock(startUnix float64) *ManualClock {
	var ptr *C.k8sretry_clock
	if check(C.k8sretry_clock_new_manual(C.double(startUnix), &ptr)) != nil {
		return nil
	}
	c := &ManualClock{ptr: ptr}
	runtime.SetFinalizer(c, func(c *ManualClock) { C.k8sretry_clock_free(c.ptr) })
	return c
}

// Advance moves the clock forward.
func (c *ManualClock) Advance(d time.Duration) {
	C.k8sretry_clock_advance(c.ptr, C.double(d.Seconds()))
	runtime.KeepAlive(c)
}
