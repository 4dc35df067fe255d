//go:build cgo

package k8sretry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// TransportOption configures WrapTransport.
type TransportOption func(*transportOptions)

type transportOptions struct {
	name func(*http.Request) string
}

// WithRequestName names each request's call in events and metrics (default: the Kubernetes
// verb and resource, "list_configmaps", "patch_pods/status", "get_version").
func WithRequestName(name func(*http.Request) string) TransportOption {
	return func(o *transportOptions) { o.name = name }
}

// WrapTransport returns a wrapper for rest.Config.WrapTransport: every request of the clients
// made from that config (client-go's clientsets, dynamic client, controller-runtime's client) runs
// through the engine.
//
//	cfg.WrapTransport = k8sretry.WrapTransport(policy)
//
// The verb comes from the method and the URL (a GET of a collection is a LIST, watch=true a WATCH,
// never retried), the patch type from Content-Type, name / generateName / resourceVersion from a
// JSON body; the recovery is ChoosePlan's for those facts (the transport stamps nothing and reads
// nothing back: a create whose response was lost is not resent; use CreateIdempotent for that).
// Bodies are replayed (GetBody, or buffered). Upgrade requests (exec, attach, port-forward) pass
// through untouched.
//
// client-go's REST client repeats by itself a response that carries Retry-After (up to 10 times)
// and a GET after a connection reset. The engine has already decided those, so what WrapTransport
// hands back never asks for more: the final response has no Retry-After header (when to try
// again is kept in its Status body's details.retryAfterSeconds, see RequeueAfter), and a request
// that got no response returns a *TransportError, whose message and type client-go does not
// retry. A DELETE whose first response was lost and whose resend found the object gone returns
// 200 with a Status Success body.
//
// Do not also wrap calls made through such a config in Do or the idempotent helpers: both would
// retry.
func WrapTransport(policy *Policy, opts ...TransportOption) func(http.RoundTripper) http.RoundTripper {
	o := transportOptions{name: requestName}
	for _, opt := range opts {
		opt(&o)
	}
	return func(next http.RoundTripper) http.RoundTripper {
		return &retryTransport{next: next, policy: policy, opts: o}
	}
}

type retryTransport struct {
	next   http.RoundTripper
	policy *Policy
	opts   transportOptions
}

// WrappedRoundTripper lets client-go's transport helpers see the wrapped transport.
func (t *retryTransport) WrappedRoundTripper() http.RoundTripper { return t.next }

// TransportError is returned by WrapTransport's round tripper when the engine gave up on a request
// that got no response (a reset, a timeout, a refused connection, a cancelled context). It is not
// retried by client-go: it does not unwrap to the network error, and its message says "connection
// reset (ECONNRESET)" where the original says "connection reset by peer". errors.As(err, &e) with
// e a *k8sretry.Error gets the engine's error (attempts, reason, the original error), and errors.Is
// matches what the original error matches (context.Canceled, syscall.ECONNRESET, ...).
type TransportError struct {
	err *Error
}

func (e *TransportError) Error() string {
	return fmt.Sprintf("k8sretry: gave up (%s) after %d attempt(s): %s", e.err.Reason, e.err.Attempts, notRetriedByClientGo(e.err.Error()))
}

// Is reports whether the original error (or the context's) matches target.
func (e *TransportError) Is(target error) bool { return errors.Is(e.err, target) }

// As sets a **Error target to the engine's error.
func (e *TransportError) As(target any) bool {
	if p, ok := target.(**Error); ok {
		*p = e.err
		return true
	}
	return false
}

// The texts k8s.io/apimachinery/pkg/util/net's IsProbableEOF and IsHTTP2ConnectionLost look for
// (client-go's rest.Request retries a GET that failed with one), said another way.
var clientGoRetries = strings.NewReplacer(
	"connection reset by peer", "connection reset (ECONNRESET)",
	"use of closed network connection", "closed network connection (used)",
	"http2: server sent GOAWAY and closed the connection", "http2 server sent GOAWAY and closed the connection",
	"http2: client connection lost", "http2 client connection lost",
)

func notRetriedByClientGo(msg string) string {
	msg = clientGoRetries.Replace(msg)
	if i := strings.Index(strings.ToLower(msg), "use of closed network connection"); i >= 0 {
		msg = msg[:i] + "closed network connection (used)" + msg[i+len("use of closed network connection"):]
	}
	return msg
}

// responseError is a response the engine is told about as a failure (status 400 and above); its
// body is read (up to maxErrorBody) and kept, so that the response can be returned as it came.
type responseError struct {
	resp *http.Response
	body []byte
}

const maxErrorBody = 1 << 20

func (e *responseError) Error() string {
	var status struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(e.body, &status) == nil && status.Message != "" {
		return fmt.Sprintf("%s: %s", e.resp.Status, status.Message)
	}
	return e.resp.Status
}

func (e *responseError) carriedFailure() Failure {
	f := Failure{Status: e.resp.StatusCode, RetryAfter: e.resp.Header.Get("Retry-After"), ErrorType: "http.Response", Message: e.Error()}
	if strings.Contains(e.resp.Header.Get("Content-Type"), "json") {
		f.Body = string(e.body)
	}
	return f
}

// keepRetryAfter sets details.retryAfterSeconds (whole seconds, rounded up) of a JSON Status body
// that has none; any other body is left as it is.
func (e *responseError) keepRetryAfter(after time.Duration) {
	if len(e.body) >= maxErrorBody || !strings.Contains(e.resp.Header.Get("Content-Type"), "json") {
		return
	}
	var status map[string]json.RawMessage
	if json.Unmarshal(e.body, &status) != nil || string(status["kind"]) != `"Status"` {
		return
	}
	details := map[string]json.RawMessage{}
	if raw, ok := status["details"]; ok && json.Unmarshal(raw, &details) != nil {
		return
	}
	var existing int64
	if json.Unmarshal(details["retryAfterSeconds"], &existing) == nil && existing > 0 {
		return
	}
	details["retryAfterSeconds"] = json.RawMessage(strconv.FormatInt(int64(math.Ceil(after.Seconds())), 10))
	status["details"], _ = json.Marshal(details)
	body, err := json.Marshal(status)
	if err != nil {
		return
	}
	e.body = body
	e.resp.Body = io.NopCloser(bytes.NewReader(body))
	e.resp.ContentLength = int64(len(body))
	e.resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
}

func newResponseError(resp *http.Response) (*responseError, error) {
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	if len(body) > maxErrorBody {
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
		return &responseError{resp: resp, body: body[:maxErrorBody]}, nil
	}
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return &responseError{resp: resp, body: body}, nil
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Upgrade") != "" || strings.EqualFold(req.Header.Get("Connection"), "upgrade") {
		return t.next.RoundTrip(req) // a stream (exec, attach, port-forward): not a request to repeat
	}
	info := describe(req)
	body, err := replayable(req)
	if err != nil {
		return nil, err
	}
	facts := Request{Verb: info.verb, Resource: info.resource}
	if info.verb == VerbPatch {
		facts.Patch = PatchTypeFromContentType(req.Header.Get("Content-Type"))
		// Whether the body is a JSON object is a fact the engine decides on too: a JSON patch
		// must be a list, so an object is refused without being applied.
		if body != nil && strings.Contains(req.Header.Get("Content-Type"), "json") {
			if rc, err := body(); err == nil {
				facts.ObjectBody = startsWithBrace(rc)
				rc.Close()
			}
		}
	}
	if (info.verb == VerbPost || info.verb == VerbPut) && body != nil && strings.Contains(req.Header.Get("Content-Type"), "json") {
		if rc, err := body(); err == nil {
			var obj struct {
				Kind     string `json:"kind"`
				Metadata struct {
					Name, GenerateName, ResourceVersion string
				} `json:"metadata"`
			}
			if json.NewDecoder(rc).Decode(&obj) == nil {
				facts.Named = obj.Metadata.Name != ""
				facts.GenerateName = !facts.Named && obj.Metadata.GenerateName != ""
				facts.ResourceVersion = obj.Metadata.ResourceVersion != ""
				if obj.Kind != "" {
					facts.Resource = obj.Kind // TokenRequest through serviceaccounts/token: persists nothing
				}
			}
			rc.Close()
		}
	}
	if info.verb == VerbPut && info.name != "" {
		facts.Named = true
	}
	recovery, _, err := ChoosePlan(facts)
	if err != nil {
		return nil, err
	}
	ctx := req.Context()
	var previous *responseError
	attempt := func(ctx context.Context) (*http.Response, error) {
		if previous != nil {
			previous.resp.Body.Close()
			previous = nil
		}
		r := req.Clone(ctx)
		if body != nil {
			rc, err := body()
			if err != nil {
				return nil, err
			}
			r.Body = rc
		}
		resp, err := t.next.RoundTrip(r)
		if err != nil || resp.StatusCode < 400 {
			return resp, err
		}
		failed, err := newResponseError(resp)
		if err != nil {
			return nil, err
		}
		previous = failed
		return nil, failed
	}
	resp, err := run(ctx, t.policy, t.opts.name(req), info.verb, recovery, attempt, nil, nil)
	var engine *Error
	switch {
	case err == nil && resp == nil: // done: a DELETE whose resend found nothing to delete
		if previous != nil {
			previous.resp.Body.Close()
		}
		return deleted(req), nil
	case err == nil:
		return resp, nil
	case !errors.As(err, &engine):
		return nil, err // bad input or a context that had ended before the first attempt
	}
	if failed, ok := engine.Err.(*responseError); ok && engine.Reason != GiveUpCancelled {
		// The engine decided: client-go must not repeat this response because of its Retry-After.
		// When to try again moves into the Status body, where client-go's error keeps it
		// (apierrors.SuggestsClientDelay, RequeueAfter) and its retry loop does not look.
		failed.resp.Header.Del("Retry-After")
		if engine.RetryAfter > 0 {
			failed.keepRetryAfter(engine.RetryAfter)
		}
		return failed.resp, nil
	}
	if previous != nil {
		previous.resp.Body.Close()
	}
	return nil, &TransportError{err: engine}
}

// replayable returns a function that gives the request body afresh for each attempt (nil when
// there is none), and closes the original body when it had to be read into memory.
func replayable(req *http.Request) (func() (io.ReadCloser, error), error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	if req.GetBody != nil {
		req.Body.Close()
		return req.GetBody, nil
	}
	data, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }, nil
}

func deleted(req *http.Request) *http.Response {
	const body = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","code":200}`
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": []string{"application/json"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// startsWithBrace reports whether the first byte of r after JSON whitespace is '{'.
func startsWithBrace(r io.Reader) bool {
	var buf [64]byte
	for {
		n, err := r.Read(buf[:])
		for _, c := range buf[:n] {
			switch c {
			case ' ', '\t', '\r', '\n':
				continue
			}
			return c == '{'
		}
		if err != nil {
			return false
		}
	}
}

// PatchTypeFromContentType maps a PATCH request's Content-Type to its patch type, as
// libk8sretry knows them (PatchUnknown for anything else: such a patch is not resent after a lost
// response).
func PatchTypeFromContentType(contentType string) PatchType {
	return patchTypeOf(contentType)
}

// requestInfo is what the URL and method tell about a request to the Kubernetes API.
type requestInfo struct {
	verb     Verb
	resource string // "configmaps", "pods/status"; "" outside /api and /apis
	name     string
	path     string // the first segment of a path outside /api and /apis ("version", "openapi")
}

// namespaceSubresources are the subresources of a namespace itself (/api/v1/namespaces/x/status).
var namespaceSubresources = map[string]bool{"status": true, "finalize": true}

// describe reads a request the way kube-apiserver's RequestInfoFactory does.
func describe(req *http.Request) requestInfo {
	parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	var info requestInfo
	watch := false
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		parts = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		parts = parts[3:]
	default:
		info.path = parts[0]
		parts = nil
	}
	if len(parts) > 0 && parts[0] == "watch" {
		watch, parts = true, parts[1:]
	}
	if len(parts) > 0 && parts[0] == "namespaces" && len(parts) > 2 && !namespaceSubresources[parts[2]] {
		parts = parts[2:]
	}
	if len(parts) > 0 {
		info.resource = parts[0]
	}
	if len(parts) > 1 {
		info.name = parts[1]
	}
	if len(parts) > 2 {
		info.resource += "/" + strings.Join(parts[2:], "/")
	}
	switch q := req.URL.Query().Get("watch"); {
	case q == "true" || q == "1":
		watch = true
	}
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		switch {
		case watch:
			info.verb = VerbWatch
		case info.resource != "" && info.name == "":
			info.verb = VerbList
		default:
			info.verb = VerbGet
		}
	case http.MethodPut:
		info.verb = VerbPut
	case http.MethodPatch:
		info.verb = VerbPatch
	case http.MethodDelete:
		info.verb = VerbDelete
	default: // POST, and any method outside the verbs, is a write
		info.verb = VerbPost
	}
	return info
}

var verbWords = map[Verb]string{VerbGet: "get", VerbList: "list", VerbWatch: "watch", VerbPost: "create", VerbPut: "update", VerbPatch: "patch", VerbDelete: "delete"}

// requestName is the default call name: "list_configmaps", "get_version".
func requestName(req *http.Request) string {
	info := describe(req)
	if info.resource == "" {
		return verbWords[info.verb] + "_" + info.path
	}
	return verbWords[info.verb] + "_" + info.resource
}
