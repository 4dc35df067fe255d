package k8sretry

import (
	"context"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"

	"golang.org/x/net/http2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// A fake APIStatus, for tests that need no server.
type fakeStatus struct{ code int32 }

func (f *fakeStatus) Error() string { return "fake" }
func (f *fakeStatus) Status() metav1.Status {
	return metav1.Status{Code: f.code, Reason: metav1.StatusReasonServiceUnavailable}
}

const podJSON = `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"web-0","namespace":"default"}}`

func statusBody(code int, reason, extra string) string {
	return `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"test","reason":"` + reason +
		`","code":` + itoa(code) + extra + `}`
}

func itoa(n int) string {
	b := []byte{}
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// server answers with the given responses in turn, then 200 with a pod.
func server(t *testing.T, responses ...func(http.ResponseWriter)) (*kubernetes.Clientset, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		if i < len(responses) {
			responses[i](w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(podJSON))
	}))
	t.Cleanup(srv.Close)
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return cs, &n
}

func status(code int, reason, extra string) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(statusBody(code, reason, extra)))
	}
}

// reset closes the connection without an answer.
func reset(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		if tcp, ok := conn.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0) // RST, not FIN
		}
		_ = conn.Close()
	}
}

func get(cs *kubernetes.Clientset) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := cs.CoreV1().Pods("default").Get(ctx, "web-0", metav1.GetOptions{})
		return err
	}
}

// create POSTs a ConfigMap. client-go retries a GET by itself after a reset or EOF (up to 10
// times, 1 s apart), so a reset only reaches the caller on other verbs.
func create(cs *kubernetes.Clientset) func(context.Context) error {
	return func(ctx context.Context) error {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}}
		_, err := cs.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
		return err
	}
}

func firstError(t *testing.T, respond func(http.ResponseWriter)) error {
	t.Helper()
	cs, _ := server(t, respond)
	err := create(cs)(context.Background())
	if err == nil {
		t.Fatal("want an error")
	}
	return err
}

func TestClientGoErrorsAreUnderstood(t *testing.T) {
	p, _ := Preset("default")
	cases := []struct {
		name    string
		respond func(http.ResponseWriter)
		class   string
		check   func(Failure) bool
	}{
		{"503 Status", status(503, "ServiceUnavailable", ""), "Transient", func(f Failure) bool { return f.Status == 503 }},
		{"429 with retryAfterSeconds", status(429, "TooManyRequests", `,"details":{"retryAfterSeconds":2}`), "Throttled",
			func(f Failure) bool { return f.RetryAfterSeconds == 2 }},
		{"409 AlreadyExists", status(409, "AlreadyExists", ""), "AlreadyExists", func(f Failure) bool { return f.Reason == "AlreadyExists" }},
		{"409 Conflict", status(409, "Conflict", ""), "Conflict", func(f Failure) bool { return f.Status == 409 }},
		{"404", status(404, "NotFound", ""), "NotFound", func(f Failure) bool { return true }},
		{"504 Timeout", status(504, "Timeout", ""), "Transient", func(f Failure) bool { return f.Reason == "Timeout" }},
		{"connection reset", reset, "NetworkAmbiguous", func(f Failure) bool { return len(f.Codes)+len(f.Errnos) > 0 }},
	}
	for _, c := range cases {
		err := firstError(t, c.respond)
		f := FailureFromError(err)
		if got := Classify(p, f); got.String() != c.class || !c.check(f) {
			t.Errorf("%s: %T %v -> %+v class %s, want %s", c.name, err, err, f, got, c.class)
		}
	}
}

func TestClientGoConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	cs, _ := kubernetes.NewForConfig(&rest.Config{Host: "http://" + addr})
	err = get(cs)(context.Background())
	p, _ := Preset("default")
	f := FailureFromError(err)
	if got := Classify(p, f); got.String() != "NetworkNotSent" {
		t.Fatalf("%T %v -> %+v class %s", err, err, f, got)
	}
}

// The apiserver resets an HTTP/2 stream (RST_STREAM INTERNAL_ERROR) when etcd goes away under a
// request: client-go over TLS + HTTP/2 meets http2.StreamError, which may have been carried out.
// The Go server resets a stream the same way when its handler aborts.
func TestClientGoHTTP2StreamResetIsAmbiguous(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: ca}})
	if err != nil {
		t.Fatal(err)
	}
	err = create(cs)(context.Background())
	var stream http2.StreamError
	if !errors.As(err, &stream) || stream.Code != http2.ErrCodeInternal {
		t.Fatalf("want an HTTP/2 stream reset, got %T %v", err, err)
	}
	p, _ := Preset("default")
	f := FailureFromError(err)
	if got := Classify(p, f); got.String() != "NetworkAmbiguous" {
		t.Fatalf("%v -> %+v class %s", err, f, got)
	}
	// REFUSED_STREAM: the server did not process it; and net/http's own copy of the type, by message.
	refused := FailureFromError(&url.Error{Op: "Post", URL: "https://k", Err: http2.StreamError{StreamID: 3, Code: http2.ErrCodeRefusedStream}})
	bundled := FailureFromError(&url.Error{Op: "Get", URL: "https://k", Err: errors.New("stream error: stream ID 5; INTERNAL_ERROR; received from peer")})
	if Classify(p, refused).String() != "NetworkNotSent" || Classify(p, bundled).String() != "NetworkAmbiguous" {
		t.Fatalf("refused %+v, bundled %+v", refused, bundled)
	}
	// The connection closed before its first request was written (met under a graceful apiserver
	// shutdown): not sent, so even a create is resent.
	unsent := FailureFromError(&url.Error{Op: "Post", URL: "https://k", Err: errors.New("http2: client conn could not be established")})
	if Classify(p, unsent).String() != "NetworkNotSent" {
		t.Fatalf("unsent %+v", unsent)
	}
}

func TestDoAroundClientGo(t *testing.T) {
	cs, n := server(t, status(503, "ServiceUnavailable", ""), status(429, "TooManyRequests", ""), status(504, "Timeout", ""))
	p := fastPolicy(t, "")
	if err := Do(context.Background(), p, get(cs), WithVerb(VerbGet)); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 4 {
		t.Fatalf("%d requests, want 4", n.Load())
	}
}

func TestAResetCreateIsNotRepeatedBlindly(t *testing.T) {
	cs, n := server(t, reset)
	err := Do(context.Background(), fastPolicy(t, ""), create(cs), WithVerb(VerbPost))
	var e *Error
	if !errors.As(err, &e) || e.Reason != GiveUpNotIdempotent || n.Load() != 1 {
		t.Fatalf("%v (%d requests)", err, n.Load())
	}
}

func TestGiveUpKeepsClientGoErrorHelpersWorking(t *testing.T) {
	cs, _ := server(t, status(404, "NotFound", ""))
	err := Do(context.Background(), fastPolicy(t, ""), get(cs), WithVerb(VerbGet))
	var e *Error
	if !errors.As(err, &e) || !apierrors.IsNotFound(err) {
		t.Fatalf("%T %v", err, err)
	}
}
