package k8sretry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// seen is one request as the test server saw it.
type seen struct {
	method, path, body string
}

// apiServer answers the i-th request with responses[i] (then 200 with a ConfigMap) and counts.
func apiServer(t *testing.T, responses ...func(http.ResponseWriter)) (string, func() []seen) {
	t.Helper()
	var mu sync.Mutex
	var log []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		i := len(log)
		log = append(log, seen{r.Method, r.URL.Path + "?" + r.URL.RawQuery, string(body)})
		mu.Unlock()
		if i < len(responses) {
			responses[i](w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm","namespace":"default"}}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []seen {
		mu.Lock()
		defer mu.Unlock()
		return append([]seen(nil), log...)
	}
}

func wrapped(t *testing.T, host string, policy *Policy) *kubernetes.Clientset {
	t.Helper()
	cfg := &rest.Config{Host: host, WrapTransport: WrapTransport(policy)}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func throttled(retryAfter string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Retry-After", retryAfter)
		status(429, "TooManyRequests", "")(w)
	}
}

// client-go repeats a 429 that carries Retry-After up to 10 times by itself; through
// WrapTransport the server sees exactly the engine's attempts, and the caller the 429.
func TestWrapTransportAttemptsAreTheEngines(t *testing.T) {
	var always []func(http.ResponseWriter)
	for i := 0; i < 100; i++ {
		always = append(always, throttled("0"))
	}
	host, log := apiServer(t, always...)
	plain, _ := kubernetes.NewForConfig(&rest.Config{Host: host})
	_, err := plain.CoreV1().ConfigMaps("default").Get(context.Background(), "cm", metav1.GetOptions{})
	if without := len(log()); !apierrors.IsTooManyRequests(err) || without != 11 {
		t.Fatalf("without WrapTransport: %v after %d requests (client-go's own 1 + 10)", err, without)
	}
	host, log = apiServer(t, always...)
	cs := wrapped(t, host, fastPolicy(t, `, "max_retries": 3`))
	_, err = cs.CoreV1().ConfigMaps("default").Get(context.Background(), "cm", metav1.GetOptions{})
	if n := len(log()); !apierrors.IsTooManyRequests(err) || n != 4 {
		t.Fatalf("with WrapTransport: %v after %d requests, want 4 (1 + 3 retries)", err, n)
	}
	// And a 429 answered in time is retried to success.
	host, log = apiServer(t, throttled("0"), status(503, "ServiceUnavailable", ""))
	if _, err := wrapped(t, host, fastPolicy(t, "")).CoreV1().ConfigMaps("default").List(context.Background(), metav1.ListOptions{}); err != nil || len(log()) != 3 {
		t.Fatalf("%v after %d requests", err, len(log()))
	}
}

// A GET whose connection is reset every time: client-go would repeat it 10 times after each of
// the engine's attempts; the engine's give-up is final.
func TestWrapTransportConnectionErrorsAreFinal(t *testing.T) {
	resets := make([]func(http.ResponseWriter), 50)
	for i := range resets {
		resets[i] = reset
	}
	host, log := apiServer(t, resets...)
	cs := wrapped(t, host, fastPolicy(t, `, "max_retries": 2`))
	_, err := cs.CoreV1().ConfigMaps("default").Get(context.Background(), "cm", metav1.GetOptions{})
	if n := len(log()); n != 3 {
		t.Fatalf("%d requests, want 3 (1 + 2 retries): %v", n, err)
	}
	var te *TransportError
	var engine *Error
	if !errors.As(err, &te) || !errors.As(err, &engine) || engine.Reason != GiveUpMaxRetries || engine.Attempts != 3 {
		t.Fatalf("%T %v", err, err)
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
		t.Fatalf("errors.Is does not reach the original: %v", err)
	}
	// A POST whose connection was reset may have been carried out: not resent.
	host, log = apiServer(t, reset)
	cs = wrapped(t, host, fastPolicy(t, ""))
	_, err = cs.CoreV1().ConfigMaps("default").Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "cm-"}}, metav1.CreateOptions{})
	if !errors.As(err, &engine) || engine.Reason != GiveUpNotIdempotent || len(log()) != 1 {
		t.Fatalf("POST: %v after %d requests", err, len(log()))
	}
}

// The error WrapTransport gives up with is none of those client-go's rest.Request retries.
func TestTransportErrorIsNotRetriedByClientGo(t *testing.T) {
	for _, original := range []error{
		&url.Error{Op: "Get", URL: "x", Err: syscall.ECONNRESET},
		errors.New("read tcp 1.2.3.4:5->6.7.8.9:443: read: connection reset by peer"),
		errors.New("http2: client connection lost"),
		errors.New("http2: server sent GOAWAY and closed the connection; LastStreamID=1"),
		errors.New("write tcp: Use of closed network connection"),
		io.EOF, io.ErrUnexpectedEOF, context.DeadlineExceeded,
	} {
		err := &url.Error{Op: "Get", URL: "https://k/api", Err: &TransportError{err: &Error{Err: original, Attempts: 4, Reason: GiveUpMaxRetries}}}
		if utilnet.IsConnectionReset(err) || utilnet.IsProbableEOF(err) || utilnet.IsHTTP2ConnectionLost(err) || utilnet.IsTimeout(err) {
			t.Errorf("client-go would retry %q", err)
		}
		if !errors.Is(err, original) {
			t.Errorf("errors.Is lost %v", original)
		}
	}
}

// Bodies are sent again, whole, on every attempt; the patch type comes from Content-Type.
func TestWrapTransportReplaysBodiesAndReadsThePatchType(t *testing.T) {
	host, log := apiServer(t, status(503, "ServiceUnavailable", ""), status(503, "ServiceUnavailable", ""))
	cs := wrapped(t, host, fastPolicy(t, ""))
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", ResourceVersion: "7"}, Data: map[string]string{"k": "v"}}
	if _, err := cs.CoreV1().ConfigMaps("default").Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	got := log()
	if len(got) != 3 || got[0].body == "" || got[0].body != got[1].body || got[1].body != got[2].body {
		t.Fatalf("%+v", got)
	}
	// A merge patch after a lost response is resent; a JSON patch is not.
	host, log = apiServer(t, reset)
	cs = wrapped(t, host, fastPolicy(t, ""))
	if _, err := cs.CoreV1().ConfigMaps("default").Patch(context.Background(), "cm", types.MergePatchType, []byte(`{"data":{"a":"b"}}`), metav1.PatchOptions{}); err != nil || len(log()) != 2 {
		t.Fatalf("merge patch: %v after %d requests", err, len(log()))
	}
	host, log = apiServer(t, reset)
	cs = wrapped(t, host, fastPolicy(t, ""))
	_, err := cs.CoreV1().ConfigMaps("default").Patch(context.Background(), "cm", types.JSONPatchType, []byte(`[{"op":"add","path":"/data/a","value":"b"}]`), metav1.PatchOptions{})
	var engine *Error
	if !errors.As(err, &engine) || engine.Reason != GiveUpNotIdempotent || len(log()) != 1 {
		t.Fatalf("JSON patch: %v after %d requests", err, len(log()))
	}
	// A JSON patch of an object is refused unapplied by the apiserver (a JSON patch is a list):
	// resent (the engine's object-body rule).
	host, log = apiServer(t, reset)
	cs = wrapped(t, host, fastPolicy(t, ""))
	if _, err := cs.CoreV1().ConfigMaps("default").Patch(context.Background(), "cm", types.JSONPatchType, []byte(` {"data":{"a":"b"}}`), metav1.PatchOptions{}); err != nil || len(log()) != 2 {
		t.Fatalf("JSON patch of an object: %v after %d requests", err, len(log()))
	}
}

// A DELETE whose response was lost and whose resend finds nothing: done, not a NotFound.
func TestWrapTransportDeleteAfterALostResponse(t *testing.T) {
	host, log := apiServer(t, reset, status(404, "NotFound", ""))
	cs := wrapped(t, host, fastPolicy(t, ""))
	if err := cs.CoreV1().ConfigMaps("default").Delete(context.Background(), "cm", metav1.DeleteOptions{}); err != nil || len(log()) != 2 {
		t.Fatalf("%v after %d requests", err, len(log()))
	}
	// A first-attempt 404 stays a NotFound.
	host, _ = apiServer(t, status(404, "NotFound", ""))
	if err := wrapped(t, host, fastPolicy(t, "")).CoreV1().ConfigMaps("default").Delete(context.Background(), "cm", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("%v", err)
	}
}

// A watch is never retried, by the engine or (through the Retry-After it no longer sees) client-go.
func TestWrapTransportNeverRetriesAWatch(t *testing.T) {
	var always []func(http.ResponseWriter)
	for i := 0; i < 20; i++ {
		always = append(always, func(w http.ResponseWriter) {
			w.Header().Set("Retry-After", "0")
			status(503, "ServiceUnavailable", "")(w)
		})
	}
	host, log := apiServer(t, always...)
	_, err := wrapped(t, host, fastPolicy(t, "")).CoreV1().ConfigMaps("default").Watch(context.Background(), metav1.ListOptions{})
	if !apierrors.IsServiceUnavailable(err) || len(log()) != 1 {
		t.Fatalf("%v after %d requests", err, len(log()))
	}
}

func TestDescribeRequests(t *testing.T) {
	cases := []struct{ method, url, want string }{
		{"GET", "/api/v1/namespaces/ns/configmaps", "list_configmaps"},
		{"GET", "/api/v1/namespaces/ns/configmaps/cm", "get_configmaps"},
		{"GET", "/api/v1/namespaces/ns/configmaps?watch=true", "watch_configmaps"},
		{"GET", "/api/v1/watch/namespaces/ns/configmaps", "watch_configmaps"},
		{"GET", "/api/v1/namespaces", "list_namespaces"},
		{"GET", "/api/v1/namespaces/ns", "get_namespaces"},
		{"PUT", "/api/v1/namespaces/ns/finalize", "update_namespaces/finalize"},
		{"PATCH", "/apis/apps/v1/namespaces/ns/deployments/web/status", "patch_deployments/status"},
		{"POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "create_selfsubjectaccessreviews"},
		{"DELETE", "/api/v1/namespaces/ns/pods", "delete_pods"},
		{"GET", "/version", "get_version"},
		{"OPTIONS", "/api/v1/namespaces/ns/pods/p", "create_pods"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, "https://k"+c.url, nil)
		if got := requestName(req); got != c.want {
			t.Errorf("%s %s: %q, want %q", c.method, c.url, got, c.want)
		}
	}
	for ct, want := range map[string]PatchType{
		"application/merge-patch+json": PatchMerge, "application/strategic-merge-patch+json": PatchStrategic,
		"application/apply-patch+yaml": PatchApply, "application/json-patch+json": PatchJSON,
		"application/json-patch+json; charset=utf-8": PatchJSON, "text/plain": PatchUnknown, "": PatchUnknown,
		"application/apply-patch+json": PatchApply, "application/apply-patch+cbor": PatchApply, "merge": PatchUnknown,
	} {
		if got := PatchTypeFromContentType(ct); got != want {
			t.Errorf("%q: %v, want %v", ct, got, want)
		}
	}
	if strings.Contains(notRetriedByClientGo("x: connection reset by peer"), "by peer") {
		t.Fatal("not rewritten")
	}
}

func TestWrapTransportCountsInMetrics(t *testing.T) {
	host, _ := apiServer(t, status(503, "ServiceUnavailable", ""))
	var calls atomic.Int32
	SetEventHandler(func(e Event) {
		if e.Function == "get_configmaps" {
			calls.Add(1)
		}
	})
	defer SetEventHandler(nil)
	if _, err := wrapped(t, host, fastPolicy(t, "")).CoreV1().ConfigMaps("default").Get(context.Background(), "cm", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 || !strings.Contains(MetricsText(), `function="get_configmaps"`) {
		t.Fatalf("%d events", calls.Load())
	}
}

// A reconciler's client: a 429 asking for 30 s is past the reconcile preset's deadline, so the
// engine gives up at once; client-go does not wait 30 s and retry (no Retry-After any more), and
// the error still says when to requeue.
func TestWrapTransportKeepsWhenToRequeue(t *testing.T) {
	host, log := apiServer(t, throttled("30"), throttled("30"))
	policy, err := Preset("reconcile")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = wrapped(t, host, policy).CoreV1().ConfigMaps("default").Get(context.Background(), "cm", metav1.GetOptions{})
	after, ok := RequeueAfter(err)
	if !apierrors.IsTooManyRequests(err) || !ok || after != 30*time.Second || len(log()) != 1 || time.Since(start) > 5*time.Second {
		t.Fatalf("%v: requeue %v %v after %d requests in %v", err, after, ok, len(log()), time.Since(start))
	}
	if s, _ := apierrors.SuggestsClientDelay(err); s != 30 {
		t.Fatalf("details.retryAfterSeconds %d", s)
	}
	// Nothing to say for a NotFound.
	host, _ = apiServer(t, status(404, "NotFound", ""))
	_, err = wrapped(t, host, policy).CoreV1().ConfigMaps("default").Get(context.Background(), "cm", metav1.GetOptions{})
	if _, ok := RequeueAfter(err); ok || !apierrors.IsNotFound(err) {
		t.Fatalf("%v", err)
	}
}
