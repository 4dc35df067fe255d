package k8sretry

/*
#include <stdint.h>
#include <k8sretry.h>
*/
import "C"

import (
	"runtime/cgo"
	"runtime/debug"
	"sync/atomic"
)

// Event is one engine event (DESIGN §7), copied out of the C callback.
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
	Level        Level // the engine's level for the event (one rule for every language)
}

// Level is the level the engine gives an event (DESIGN §7); loggers map it to theirs.
type Level int

// Levels.
const (
	LevelDebug Level = C.K8SRETRY_LEVEL_DEBUG // an answer the caller handles, a cancel
	LevelInfo  Level = C.K8SRETRY_LEVEL_INFO  // a success after retries, a recovered lost response
	LevelWarn  Level = C.K8SRETRY_LEVEL_WARN  // retries, give-ups that return the error
	LevelError Level = C.K8SRETRY_LEVEL_ERROR // a write whose outcome is unknown
)

// String is the level's name as libk8sretry gives it: debug, info, warn, error.
func (l Level) String() string {
	return C.GoString(C.k8sretry_level_name(C.uint32_t(l)))
}

var eventHandler atomic.Pointer[func(Event)]

// SetEventHandler sets (nil clears) the process-wide event handler, which sees the events of
// every call (besides the logger of the call's context, see ContextWithLogger). It is called from
// the goroutine that reported the failure or success, so it must be safe for concurrent use.
//
// The handler runs inside libk8sretry's (Rust) frames, which a panic must not cross: a panic in
// the handler (or in the logger the event goes to) is recovered there, and the call goes on as
// if the handler had returned. The panic is reported as an error-level log line
// "k8sretry_event_handler_panicked" with the fields event (the event's name), function, panic
// (the value) and stack, to the logger the call's events go to (see ContextWithLogger).
func SetEventHandler(handler func(Event)) {
	if handler == nil {
		eventHandler.Store(nil)
		return
	}
	eventHandler.Store(&handler)
	registerCallback()
}

func goString(s C.k8sretry_str) string {
	if s.data == nil || s.len == 0 {
		return ""
	}
	return C.GoStringN(s.data, C.int(s.len))
}

//export goK8sretryEvent
func goK8sretryEvent(sink C.uintptr_t, e *C.k8sretry_event) {
	handler := eventHandler.Load()
	if handler == nil && sink == 0 {
		return
	}
	// A panic must not unwind through the Rust frames below (golang/go#16150): recovered here.
	defer func() {
		if r := recover(); r != nil {
			reportHandlerPanic(uintptr(sink), C.GoString(e.name), goString(e.function), r, debug.Stack())
		}
	}()
	event := Event{
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
		Level:        Level(e.level),
	}
	if sink != 0 {
		if s, ok := cgo.Handle(sink).Value().(*callSink); ok {
			s.log(event)
		}
	}
	if handler != nil {
		(*handler)(event)
	}
}
