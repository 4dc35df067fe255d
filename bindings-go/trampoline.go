package k8sretry

/*
#include <stdint.h>
#include <k8sretry.h>
// Declared here, defined by the //export in events.go (a file with //export may hold no definitions).
extern void goK8sretryEvent(uintptr_t sink, k8sretry_event *event);

// The sink (a cgo.Handle of the Go call's context) of the step running on this thread. libk8sretry
// emits events synchronously, on the thread that reports the step, so the callback finds the
// sink of the call the event is about here.
static __thread uintptr_t k8sretry_go_sink;

static void k8sretry_go_event(void *userdata, const k8sretry_event *event) {
	(void)userdata;
	goK8sretryEvent(k8sretry_go_sink, (k8sretry_event *)event);
}

static inline k8sretry_status k8sretry_go_set_callback(void) {
	return k8sretry_set_event_callback(k8sretry_go_event, NULL);
}

static k8sretry_status k8sretry_go_on_failure(k8sretry_call *call, const k8sretry_failure *failure,
		k8sretry_decision *out, uintptr_t sink) {
	uintptr_t saved = k8sretry_go_sink;
	k8sretry_go_sink = sink;
	k8sretry_status status = k8sretry_call_on_failure(call, failure, out);
	k8sretry_go_sink = saved;
	return status;
}

static k8sretry_status k8sretry_go_on_read_back(k8sretry_call *call, uint32_t outcome,
		const k8sretry_failure *failure, k8sretry_decision *out, uintptr_t sink) {
	uintptr_t saved = k8sretry_go_sink;
	k8sretry_go_sink = sink;
	k8sretry_status status = k8sretry_call_on_read_back(call, outcome, failure, out);
	k8sretry_go_sink = saved;
	return status;
}

static k8sretry_status k8sretry_go_resume(k8sretry_call *call, k8sretry_decision *out, uintptr_t sink) {
	uintptr_t saved = k8sretry_go_sink;
	k8sretry_go_sink = sink;
	k8sretry_status status = k8sretry_call_resume(call, out);
	k8sretry_go_sink = saved;
	return status;
}

static k8sretry_status k8sretry_go_on_cancelled(k8sretry_call *call, k8sretry_decision *out, uintptr_t sink) {
	uintptr_t saved = k8sretry_go_sink;
	k8sretry_go_sink = sink;
	k8sretry_status status = k8sretry_call_on_cancelled(call, out);
	k8sretry_go_sink = saved;
	return status;
}

static k8sretry_status k8sretry_go_on_success(k8sretry_call *call, uintptr_t sink) {
	uintptr_t saved = k8sretry_go_sink;
	k8sretry_go_sink = sink;
	k8sretry_status status = k8sretry_call_on_success(call);
	k8sretry_go_sink = saved;
	return status;
}
*/
import "C"

import "sync"

var callbackOnce sync.Once

// registerCallback points libk8sretry's process-wide event callback at Go, once.
func registerCallback() { callbackOnce.Do(func() { C.k8sretry_go_set_callback() }) }

func callOnFailure(call *C.k8sretry_call, f *C.k8sretry_failure, out *C.k8sretry_decision, sink uintptr) C.k8sretry_status {
	return C.k8sretry_go_on_failure(call, f, out, C.uintptr_t(sink))
}

func callOnReadBack(call *C.k8sretry_call, outcome ReadOutcome, f *C.k8sretry_failure, out *C.k8sretry_decision, sink uintptr) C.k8sretry_status {
	return C.k8sretry_go_on_read_back(call, C.uint32_t(outcome), f, out, C.uintptr_t(sink))
}

func callResume(call *C.k8sretry_call, out *C.k8sretry_decision, sink uintptr) C.k8sretry_status {
	return C.k8sretry_go_resume(call, out, C.uintptr_t(sink))
}

func callOnCancelled(call *C.k8sretry_call, out *C.k8sretry_decision, sink uintptr) C.k8sretry_status {
	return C.k8sretry_go_on_cancelled(call, out, C.uintptr_t(sink))
}

func callOnSuccess(call *C.k8sretry_call, sink uintptr) C.k8sretry_status {
	return C.k8sretry_go_on_success(call, C.uintptr_t(sink))
}
