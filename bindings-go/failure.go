package k8sretry

/*
#include <k8sretry.h>
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"golang.org/x/net/http2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// Verb is the HTTP verb of a request; VerbUnknown means the caller vouches that repeating the
// call is safe.
type Verb uint32

// Verbs.
const (
	VerbUnknown Verb = C.K8SRETRY_VERB_UNKNOWN
	VerbGet     Verb = C.K8SRETRY_VERB_GET
	VerbList    Verb = C.K8SRETRY_VERB_LIST
	VerbWatch   Verb = C.K8SRETRY_VERB_WATCH
	VerbPost    Verb = C.K8SRETRY_VERB_POST
	VerbPut     Verb = C.K8SRETRY_VERB_PUT
	VerbPatch   Verb = C.K8SRETRY_VERB_PATCH
	VerbDelete  Verb = C.K8SRETRY_VERB_DELETE
)

// Failure is what the engine needs to know about one failed attempt.
type Failure struct {
	Status            int      // HTTP status, 0 when no response arrived
	Reason            string   // Kubernetes Status.reason
	Body              string   // raw Status JSON text, read for reason and retryAfterSeconds
	RetryAfter        string   // raw Retry-After header
	RetryAfterSeconds int64    // Status.details.retryAfterSeconds, 0 when none
	Codes             []string // network codes, outermost first (ECONNRESET, ...)
	Errnos            []int    // OS error numbers, mapped to codes by the engine
	Timeout           bool     // a client-side timeout fired
	Cancelled         bool     // the caller cancelled: never retried
	UserRetryable     bool     // the caller's own rule says retry
	Verb              Verb
	ErrorType         string
	Message           string
}

// toC builds the C failure; the caller frees it (also on error). Every setter's status is
// checked: the first that fails is returned (text is read lossily by libk8sretry, so only a bug
// or an out-of-range value can fail).
func (f *Failure) toC() (*C.k8sretry_failure, error) {
	var c *C.k8sretry_failure
	if err := check(C.k8sretry_failure_new(&c)); err != nil {
		return nil, err
	}
	var first error
	set := func(status C.enum_k8sretry_status) {
		if err := check(status); err != nil && first == nil {
			first = err
		}
	}
	if f.Status > 0 && f.Status <= 0xffff {
		set(C.k8sretry_failure_set_status(c, C.uint16_t(f.Status)))
	}
	// Apply reason before body: fields set directly win over the body's (see tests/vectors/README.md).
	if f.Reason != "" {
		p, n := cstr(f.Reason)
		set(C.k8sretry_failure_set_reason(c, p, n))
	}
	if f.Body != "" {
		p, n := cstr(f.Body)
		set(C.k8sretry_failure_set_status_body(c, p, n))
	}
	if f.RetryAfter != "" {
		p, n := cstr(f.RetryAfter)
		set(C.k8sretry_failure_set_retry_after(c, p, n))
	}
	if f.RetryAfterSeconds != 0 {
		set(C.k8sretry_failure_set_retry_after_seconds(c, C.int64_t(f.RetryAfterSeconds)))
	}
	for _, code := range f.Codes {
		p, n := cstr(code)
		set(C.k8sretry_failure_add_code(c, p, n))
	}
	for _, errno := range f.Errnos {
		set(C.k8sretry_failure_add_errno(c, C.int32_t(errno)))
	}
	set(C.k8sretry_failure_set_timeout(c, C.bool(f.Timeout)))
	set(C.k8sretry_failure_set_cancelled(c, C.bool(f.Cancelled)))
	set(C.k8sretry_failure_set_user_retryable(c, C.bool(f.UserRetryable)))
	set(C.k8sretry_failure_set_verb(c, C.uint32_t(f.Verb)))
	if f.ErrorType != "" || f.Message != "" {
		tp, tn := cstr(f.ErrorType)
		mp, mn := cstr(f.Message)
		set(C.k8sretry_failure_set_error(c, tp, tn, mp, mn))
	}
	return c, first
}

// failureCarrier is an error that knows its Failure (a response WrapTransport reports).
type failureCarrier interface{ carriedFailure() Failure }

// maxChain bounds the walk down an error's wrap chain (cyclic chains never hang).
const maxChain = 16

// FailureFromError extracts a Failure from an error returned by client-go or the net stack:
// apierrors.APIStatus (code, reason, details.retryAfterSeconds), net.Error timeouts,
// syscall.Errno, DNS errors, dropped connections (io.EOF mid-response, HTTP/2 connection loss),
// and context cancellation. It decides nothing: the engine classifies what it finds.
func FailureFromError(err error) Failure {
	f := Failure{ErrorType: fmt.Sprintf("%T", err)}
	if err == nil {
		return f
	}
	var carrier failureCarrier
	if errors.As(err, &carrier) {
		return carrier.carriedFailure()
	}
	f.Message = err.Error()
	if errors.Is(err, context.Canceled) {
		f.Cancelled = true
	}
	if errors.Is(err, context.DeadlineExceeded) {
		f.Timeout = true
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		s := status.Status()
		f.Status = int(s.Code)
		f.Reason = string(s.Reason)
		if s.Details != nil {
			f.RetryAfterSeconds = int64(s.Details.RetryAfterSeconds)
		}
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		f.Timeout = true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsNotFound {
			f.Codes = append(f.Codes, "ENOTFOUND")
		} else {
			f.Codes = append(f.Codes, "EAI_AGAIN")
		}
	}
	// Errnos anywhere on the chain, outermost first.
	walk(err, func(e error) {
		var errno syscall.Errno
		if errors.As(e, &errno) {
			f.Errnos = append(f.Errnos, int(errno))
		}
	})
	// Connection failures without an errno, named by the code other stacks report so the engine
	// sees the same code: a stream reset; a connection closed before the answer arrived (EOF);
	// the failures Go reports only by message.
	var stream http2.StreamError
	var code string
	switch {
	case errors.As(err, &stream):
		code = streamResetCode(stream.Code == http2.ErrCodeRefusedStream)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		code = "ECONNRESET"
	default:
		code = messageCode(f.Message)
	}
	if code != "" {
		f.Codes = append(f.Codes, code)
	}
	return f
}

// streamResetCode names an HTTP/2 stream reset (RST_STREAM) by the code other stacks report: the
// apiserver resets streams with INTERNAL_ERROR when etcd goes away mid-request, and the request
// may have been carried out (ECONNRESET); REFUSED_STREAM promises it was not (RFC 9113 §8.7:
// ECONNREFUSED).
func streamResetCode(refused bool) string {
	if refused {
		return "ECONNREFUSED"
	}
	return "ECONNRESET"
}

// messageCodes names the connection failures Go's HTTP stacks report only by message (no errno,
// or a type net/http's bundled http2 does not export), by the code other stacks report; the first
// that matches counts.
var messageCodes = []struct{ text, code string }{
	// x/net/http2: the connection closed before this, its first request, was written
	// (awaitOpenSlotForStreamLocked): nothing was sent. Seen when the apiserver shuts down
	// gracefully under load.
	{"http2: client conn could not be established", "ECONNREFUSED"},
	// A stream reset (see streamResetCode) from net/http's own copy of http2.
	{"REFUSED_STREAM", streamResetCode(true)},
	{"stream error: stream ID ", streamResetCode(false)},
	{"http2: client connection lost", "ECONNRESET"},
	{"GOAWAY", "ECONNRESET"},
	{"connection reset by peer", "ECONNRESET"},
	{"server closed idle connection", "ECONNRESET"},
}

func messageCode(msg string) string {
	for _, m := range messageCodes {
		if strings.Contains(msg, m.text) {
			return m.code
		}
	}
	return ""
}

// walk visits err and what it wraps (single and multiple), breadth first, at most maxChain errors.
func walk(err error, visit func(error)) {
	queue := []error{err}
	for seen := 0; len(queue) > 0 && seen < maxChain; seen++ {
		e := queue[0]
		queue = queue[1:]
		if e == nil {
			continue
		}
		visit(e)
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			queue = append(queue, u.Unwrap())
		case interface{ Unwrap() []error }:
			queue = append(queue, u.Unwrap()...)
		}
	}
}
