package k8sretry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

type record map[string]any

// jsonLogger logs JSON lines at every level into a buffer.
func jsonLogger() (*slog.Logger, func() []record) {
	var mu sync.Mutex
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return l, func() []record {
		mu.Lock()
		defer mu.Unlock()
		var out []record
		for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if line == "" {
				continue
			}
			var r record
			_ = json.Unmarshal([]byte(line), &r)
			out = append(out, r)
		}
		return out
	}
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func failing(errs ...error) func(context.Context) error {
	n := 0
	return func(context.Context) error {
		n++
		if n <= len(errs) {
			return errs[n-1]
		}
		return nil
	}
}

var notFound = apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, "web-0")

func TestEventsGoToTheContextsSlogLogger(t *testing.T) {
	l, records := jsonLogger()
	ctx := ContextWithLogger(context.Background(), l)
	p := fastPolicy(t, `, "max_retries": 2`)
	unavailable := apierrors.NewServiceUnavailable("restarting")
	_ = Do(ctx, p, failing(unavailable), WithVerb(VerbGet), WithName("slog_retry"))
	_ = Do(ctx, p, failing(notFound), WithVerb(VerbGet), WithName("slog_404"))
	_ = Do(ctx, p, failing(apierrors.NewConflict(schema.GroupResource{Resource: "pods"}, "web-0", fmt.Errorf("changed"))), WithVerb(VerbPut), WithName("slog_409"))
	_ = Do(ctx, p, failing(unavailable, unavailable, unavailable), WithVerb(VerbGet), WithName("slog_give_up"))
	var got []string
	for _, r := range records() {
		got = append(got, fmt.Sprintf("%s %s %s", r["level"], r["function"], r["msg"]))
	}
	want := []string{
		"WARN slog_retry k8s_api_call_failed_retrying",
		"INFO slog_retry k8s_api_call_succeeded_after_retry",
		"DEBUG slog_404 k8s_api_call_failed_non_retryable",
		"DEBUG slog_409 k8s_api_call_failed_non_retryable",
		"WARN slog_give_up k8s_api_call_failed_retrying",
		"WARN slog_give_up k8s_api_call_failed_retrying",
		"WARN slog_give_up k8s_api_call_failed_max_retries",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	first := records()[0]
	for k, v := range map[string]any{"attempt": 1.0, "max_retries": 2.0, "status_code": 503.0, "reason": "ServiceUnavailable", "error": "restarting"} {
		if first[k] != v {
			t.Errorf("field %s = %v, want %v (%v)", k, first[k], v, first)
		}
	}
	if d, ok := first["delay_seconds"].(float64); !ok || d <= 0 {
		t.Errorf("delay_seconds %v", first["delay_seconds"])
	}
	if last := records()[6]; last["give_up"] != "MaxRetries" || last["attempt"] != 3.0 {
		t.Errorf("give-up record %v", last)
	}
}

// A lost write whose outcome is unknown is an error even on the first attempt (the engine's level).
func TestAnUnknownOutcomeIsAnError(t *testing.T) {
	l, records := jsonLogger()
	_ = Do(ContextWithLogger(context.Background(), l), fastPolicy(t, ""), failing(fmt.Errorf("read: %w", syscall.ECONNRESET)), WithVerb(VerbPost), WithName("unknown"))
	if r := records(); len(r) != 1 || r[0]["level"] != "ERROR" || r[0]["give_up"] != "NotIdempotent" {
		t.Fatalf("%v", r)
	}
}

type logrLine struct {
	level  int
	err    bool
	msg    string
	fields string
}

func TestEventsGoToTheContextsLogrLogger(t *testing.T) {
	var mu sync.Mutex
	var lines []logrLine
	logger := funcr.NewJSON(func(obj string) {
		var m map[string]any
		_ = json.Unmarshal([]byte(obj), &m)
		v, isInfo := m["level"].(float64) // funcr: Info has a level, Error has none
		mu.Lock()
		lines = append(lines, logrLine{int(v), !isInfo, fmt.Sprint(m["msg"]), fmt.Sprintf("%v/%v/%v", m["function"], m["attempt"], m["status_code"])})
		mu.Unlock()
	}, funcr.Options{Verbosity: 1})
	ctx := logr.NewContext(context.Background(), logger)
	p := fastPolicy(t, `, "max_retries": 1`)
	unavailable := apierrors.NewServiceUnavailable("restarting")
	_ = Do(ctx, p, failing(notFound), WithVerb(VerbGet), WithName("logr_404"))
	_ = Do(ctx, p, failing(unavailable), WithVerb(VerbGet), WithName("logr_retry"))
	_ = Do(ctx, p, failing(unavailable, unavailable), WithVerb(VerbGet), WithName("logr_give_up"))
	_ = Do(ctx, p, failing(fmt.Errorf("read: %w", syscall.ECONNRESET)), WithVerb(VerbPost), WithName("logr_unknown"))
	mu.Lock()
	defer mu.Unlock()
	want := []logrLine{
		{1, false, "k8s_api_call_failed_non_retryable", "logr_404/1/404"},
		{0, false, "k8s_api_call_failed_retrying", "logr_retry/1/503"},
		{0, false, "k8s_api_call_succeeded_after_retry", "logr_retry/2/<nil>"},
		{0, false, "k8s_api_call_failed_retrying", "logr_give_up/1/503"},
		{0, false, "k8s_api_call_failed_max_retries", "logr_give_up/2/503"},
		{0, true, "k8s_api_call_failed_non_retryable", "logr_unknown/1/<nil>"},
	}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Fatalf("lines\n%v\nwant\n%v", lines, want)
	}
}

// Calls on many goroutines at once: every event reaches the logger of its own call's context.
func TestEventsFindTheirOwnCallsLogger(t *testing.T) {
	p := fastPolicy(t, `, "max_retries": 3`)
	const goroutines, calls = 8, 40
	var wg sync.WaitGroup
	logs := make([]func() []record, goroutines)
	for g := 0; g < goroutines; g++ {
		l, records := jsonLogger()
		logs[g] = records
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			ctx := ContextWithLogger(context.Background(), l)
			for i := 0; i < calls; i++ {
				_ = Do(ctx, p, failing(apierrors.NewServiceUnavailable("x"), apierrors.NewServiceUnavailable("x")),
					WithVerb(VerbGet), WithName(fmt.Sprintf("g%d", g)))
			}
		}(g)
	}
	wg.Wait()
	for g, records := range logs {
		r := records()
		if len(r) != 3*calls {
			t.Errorf("goroutine %d: %d records, want %d", g, len(r), 3*calls)
		}
		for _, rec := range r {
			if rec["function"] != fmt.Sprintf("g%d", g) {
				t.Fatalf("goroutine %d's logger got %v", g, rec)
			}
		}
	}
}

// Without a logger in the context, events go to the default logger (slog.Default() until set);
// the process-wide event handler sees them as well.
func TestTheDefaultLoggerAndTheHandler(t *testing.T) {
	l, records := jsonLogger()
	SetDefaultLogger(l)
	defer SetDefaultLogger(nil)
	var handled []string
	var mu sync.Mutex
	SetEventHandler(func(e Event) {
		if e.Function == "default_logger" {
			mu.Lock()
			handled = append(handled, e.Name)
			mu.Unlock()
		}
	})
	defer SetEventHandler(nil)
	_ = Do(context.Background(), fastPolicy(t, ""), failing(apierrors.NewServiceUnavailable("x")), WithVerb(VerbGet), WithName("default_logger"))
	if r := records(); len(r) != 2 || r[0]["function"] != "default_logger" {
		t.Fatalf("%v", r)
	}
	if len(handled) != 2 {
		t.Fatalf("handler saw %v", handled)
	}
	// Silenced: a context logger with a discarding handler.
	SetDefaultLogger(slog.New(slog.DiscardHandler))
	_ = Do(context.Background(), fastPolicy(t, ""), failing(apierrors.NewServiceUnavailable("x")), WithVerb(VerbGet), WithName("default_logger"))
	if r := records(); len(r) != 2 {
		t.Fatalf("%v", r)
	}
}

// A panic in an event handler must not unwind through libk8sretry's frames: it is recovered,
// reported to the call's logger, and the call and later SetEventHandler calls go on.
func TestAPanickingEventHandlerIsRecoveredAndReported(t *testing.T) {
	l, records := jsonLogger()
	ctx := ContextWithLogger(context.Background(), l)
	p := fastPolicy(t, `, "max_retries": 2`)
	var handled atomic.Int32
	SetEventHandler(func(Event) {
		handled.Add(1)
		panic("handler bug")
	})
	err := Do(ctx, p, failing(apierrors.NewServiceUnavailable("restarting")), WithVerb(VerbGet), WithName("panicky"))
	cleared := make(chan struct{})
	go func() {
		SetEventHandler(nil)
		close(cleared)
	}()
	select {
	case <-cleared:
	case <-time.After(10 * time.Second):
		t.Fatal("SetEventHandler after a panicking handler did not return")
	}
	if err != nil {
		t.Fatalf("the call failed: %v", err)
	}
	if handled.Load() != 2 {
		t.Fatalf("the handler ran %d times, want 2 (retrying, succeeded after retry)", handled.Load())
	}
	var panics []record
	for _, r := range records() {
		if r["msg"] == handlerPanicked {
			panics = append(panics, r)
		}
	}
	if len(panics) != 2 {
		t.Fatalf("%d panics reported, want 2: %v", len(panics), records())
	}
	first := panics[0]
	stack, _ := first["stack"].(string)
	if first["level"] != "ERROR" || first["panic"] != "handler bug" || first["event"] != "k8s_api_call_failed_retrying" ||
		first["function"] != "panicky" || !strings.Contains(stack, "TestAPanickingEventHandlerIsRecoveredAndReported") {
		t.Fatalf("report %v", first)
	}
	// Events flow again once the handler is replaced.
	var seen atomic.Int32
	SetEventHandler(func(Event) { seen.Add(1) })
	defer SetEventHandler(nil)
	_ = Do(ctx, p, failing(apierrors.NewServiceUnavailable("restarting")), WithVerb(VerbGet), WithName("after_panic"))
	if seen.Load() != 2 {
		t.Fatalf("the next handler saw %d events, want 2", seen.Load())
	}
}

// DESIGN §7: an error whose text carries a bearer token, a Secret's data and the request body
// puts none of them in any log line or event.
func TestNoCredentialsBodiesOrSecretDataInLogsOrEvents(t *testing.T) {
	const (
		token  = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDpjaSJ9.c2lnbmF0dXJlLW5vdC1yZWFs"
		secret = "c3VwZXItc2VjcmV0LXBhc3N3b3JkLTQy"
		body   = "request-body-canary"
	)
	leaky := fmt.Errorf("Put \"https://127.0.0.1:6443/api/v1/namespaces/default/secrets/db\": Authorization: Bearer %s; "+
		"data.password=%s; request body: {\"kind\":\"Secret\",\"data\":{\"password\":\"%s\"},\"stringData\":{\"note\":\"%s\"}}\n"+
		"response body: %s %s: %w", token, secret, secret, body, body, secret, apierrors.NewServiceUnavailable("restarting"))
	l, records := jsonLogger()
	ctx := ContextWithLogger(context.Background(), l)
	var mu sync.Mutex
	var events []Event
	SetEventHandler(func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		events = append(events, e)
	})
	defer SetEventHandler(nil)
	var logrLines []string
	logrCtx := logr.NewContext(context.Background(), funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		logrLines = append(logrLines, prefix+" "+args)
	}, funcr.Options{Verbosity: 1}))
	p := fastPolicy(t, `, "max_retries": 1`)
	for _, c := range []context.Context{ctx, logrCtx} {
		if err := Do(c, p, failing(leaky, leaky), WithVerb(VerbPut), WithName("replace_secret")); !errors.Is(err, leaky) {
			t.Fatalf("the caller gets its own error back: %v", err)
		}
	}
	var texts []string
	for _, r := range records() {
		line, _ := json.Marshal(r)
		texts = append(texts, string(line))
	}
	mu.Lock()
	defer mu.Unlock()
	texts = append(texts, logrLines...)
	for _, e := range events {
		texts = append(texts, fmt.Sprintf("%+v", e))
	}
	if len(records()) != 2 || len(logrLines) != 2 || len(events) != 4 {
		t.Fatalf("%d slog lines, %d logr lines, %d events; want 2, 2, 4: %v", len(records()), len(logrLines), len(events), texts)
	}
	for _, text := range texts {
		for _, gone := range []string{token, secret, body, `\"kind\"`, "stringData"} {
			if strings.Contains(text, gone) {
				t.Errorf("%q in %s", gone, text)
			}
		}
		if !strings.Contains(text, "secrets/db") || !strings.Contains(text, "Bearer [redacted]") {
			t.Errorf("the rest of the error is gone: %s", text)
		}
	}
}
