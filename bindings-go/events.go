package k8sretry

/*
#include <k8sretry.h>
*/
import "C"

import (
	"sync/atomic"
	"unsafe"
)

// Event is one engine event (DESIGN §2.7), copied out of the C callback.
type Event struct {
	Name         string // k8s_api_call_failed_retrying, ...
	Function     string
	Attempt      int
	MaxRetries   int
	DelaySeconds float64 // negative when there is none
	StatusCode   int
	Reason       string
	Code         string
	ErrorType    string
	Error        string
	Class        Class
	GiveUp       GiveUpReason
}

var eventHandler atomic.Pointer[func(Event)]

// SetEventHandler sets (nil clears) the process-wide event handler. It is called from the
// goroutine that reported the failure or success, so it must be safe for concurrent use.
func SetEventHandler(handler func(Event)) {
	if handler == nil {
		eventHandler.Store(nil)
		C.k8sretry_set_event_callback(nil, nil)
		return
	}
	eventHandler.Store(&handler)
	setGoCallback()
}

func goString(s C.k8sretry_str) string {
	if s.data == nil || s.len == 0 {
		return ""
	}
	return C.GoStringN(s.data, C.int(s.len))
}

//export goK8sretryEvent
func goK8sretryEvent(_ unsafe.Pointer, e *C.k8sretry_event) {
	handler := eventHandler.Load()
	if handler == nil {
		return
	}
	(*handler)(Event{
		Name:         C.GoString(e.name),
		Function:     goString(e.function),
		Attempt:      int(e.attempt),
		MaxRetries:   int(e.max_retries),
		DelaySeconds: float64(e.delay_seconds),
		StatusCode:   int(e.status_code),
		Reason:       goString(e.reason),
		Code:         goString(e.code),
		ErrorType:    goString(e.error_type),
		Error:        goString(e.error),
		Class:        Class(e.class_),
		GiveUp:       GiveUpReason(e.give_up_reason),
	})
}
