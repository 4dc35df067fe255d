package k8sretry

import (
	"context"
	"errors"
	"fmt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func fastPolicy(t *testing.T, extra string) *Policy {
	t.Helper()
	p, err := PolicyFromJSON(`{"initial_delay": 0.001, "max_delay": 0.002, "budget": null` + extra + `}`)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type apiErr struct{ status int }

func (e apiErr) Error() string { return fmt.Sprintf("HTTP %d", e.status) }

func TestDoRetriesThenSucceeds(t *testing.T) {
	p := fastPolicy(t, "")
	n := 0
	err := Do(context.Background(), p, func(context.Context) error {
		n++
		if n < 3 {
			return syscall.ECONNRESET
		}
		return nil
	}, WithVerb(VerbGet))
	if err != nil || n != 3 {
		t.Fatalf("err %v after %d calls", err, n)
	}
}

func TestDoGivesUpWithTheOriginalError(t *testing.T) {
	p := fastPolicy(t, `, "max_retries": 2`)
	var last error
	n := 0
	err := Do(context.Background(), p, func(context.Context) error {
		n++
		last = fmt.Errorf("attempt %d: %w", n, syscall.ECONNREFUSED)
		return last
	}, WithVerb(VerbPost))
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("want *Error, got %T %v", err, err)
	}
	if e.Err != last || !errors.Is(err, last) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("does not unwrap to the original: %v", err)
	}
	if e.Attempts != 3 || e.Reason != GiveUpMaxRetries || len(e.Earlier) != 2 || n != 3 {
		t.Fatalf("attempts %d reason %s earlier %d calls %d", e.Attempts, e.Reason, len(e.Earlier), n)
	}
	if err.Error() != last.Error() {
		t.Fatalf("message changed: %q", err.Error())
	}
}

func TestDoDoesNotRetryNonRetryable(t *testing.T) {
	p := fastPolicy(t, "")
	n := 0
	err := Do(context.Background(), p, func(context.Context) error { n++; return errors.New("bad request") }, WithVerb(VerbGet))
	var e *Error
	if !errors.As(err, &e) || e.Reason != GiveUpNonRetryable || n != 1 {
		t.Fatalf("%v after %d calls", err, n)
	}
}

func TestDoStopsAtOnceWhenCancelledMidSleep(t *testing.T) {
	p, err := PolicyFromJSON(`{"initial_delay": 3600, "max_delay": 3600, "budget": null}`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	go func() {
		for calls.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	err = Do(ctx, p, func(context.Context) error { calls.Add(1); return syscall.ECONNRESET }, WithVerb(VerbGet))
	if time.Since(start) > 5*time.Second {
		t.Fatalf("did not stop at once: %v", time.Since(start))
	}
	if !errors.Is(err, context.Canceled) || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("want both the context error and the original: %v", err)
	}
	if calls.Load() != 1 {
		t.Fatalf("%d calls", calls.Load())
	}
}

func TestDoNeverRetriesAfterTheContextEnded(t *testing.T) {
	p := fastPolicy(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	err := Do(ctx, p, func(ctx context.Context) error {
		n++
		cancel()
		return ctx.Err()
	}, WithIdempotent())
	var e *Error
	if !errors.As(err, &e) || e.Reason != GiveUpCancelled || n != 1 {
		t.Fatalf("%v after %d calls", err, n)
	}
	if err := Do(ctx, p, func(context.Context) error { t.Fatal("called"); return nil }, WithVerb(VerbGet)); !errors.Is(err, context.Canceled) {
		t.Fatalf("already-cancelled ctx: %v", err)
	}
}

func TestPolicyErrorsNameTheKey(t *testing.T) {
	_, err := PolicyFromJSON(`{"max_retrys": 2}`)
	if !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), "max_retrys") {
		t.Fatalf("%v", err)
	}
	if _, err := Preset("fast"); !errors.Is(err, ErrInvalidPolicy) {
		t.Fatalf("%v", err)
	}
	for _, name := range Presets {
		if _, err := Preset(name); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	// The list is libk8sretry's: reconcile was missing from a copy here.
	if !slices.Contains(Presets, "reconcile") || Presets[0] != "default" {
		t.Fatalf("Presets %v", Presets)
	}
	if Class(4).String() != "NetworkAmbiguous" || Class(0).String() != "None" || Class(99).String() != "Unknown" {
		t.Fatalf("class names %v %v %v", Class(4), Class(0), Class(99))
	}
}

func TestEventsAndMetrics(t *testing.T) {
	var mu sync.Mutex
	var names []string
	SetEventHandler(func(e Event) {
		if e.Function == "events_test" {
			mu.Lock()
			names = append(names, fmt.Sprintf("%s/%d/%d", e.Name, e.Attempt, e.StatusCode))
			mu.Unlock()
		}
	})
	defer SetEventHandler(nil)
	p := fastPolicy(t, "")
	n := 0
	_ = Do(context.Background(), p, func(context.Context) error {
		n++
		if n == 1 {
			return &fakeStatus{code: 503}
		}
		return nil
	}, WithName("events_test"), WithVerb(VerbGet))
	mu.Lock()
	defer mu.Unlock()
	want := []string{"k8s_api_call_failed_retrying/1/503", "k8s_api_call_succeeded_after_retry/2/0"}
	if fmt.Sprint(names) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", names, want)
	}
	if !strings.Contains(MetricsText(), `k8sretry_calls_total{function="events_test",outcome="success_after_retry"} 1`) {
		t.Fatalf("metrics:\n%s", MetricsText())
	}
}

// One policy and its budget shared by many goroutines: run under -race.
func TestConcurrentCallsShareOnePolicy(t *testing.T) {
	p, err := PolicyFromJSON(`{"initial_delay": 0.001, "max_delay": 0.002, "budget": {"ratio": 0.2, "burst": 0.2, "min_per_second": 1, "ttl": 60}}`)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var attempts atomic.Int64
	const goroutines, calls = 8, 50
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				_ = Do(context.Background(), p, func(context.Context) error {
					attempts.Add(1)
					return syscall.ECONNREFUSED
				}, WithVerb(VerbList))
			}
		}()
	}
	wg.Wait()
	retries := attempts.Load() - goroutines*calls
	// 400 first attempts deposit 80 tokens (burst = ratio: the same 20% at every moment); the
	// floor (60) is below that: ~80 retries.
	if retries < 78 || retries > 90 {
		t.Fatalf("%d retries for %d calls: the shared budget did not hold", retries, goroutines*calls)
	}
}

type badBytes struct{}

func (badBytes) Error() string { return "connection reset: \xff\xfe peer" }

// Text with invalid UTF-8 is read lossily, as in every binding: a 429 body with a bad byte still
// gives its Retry-After, and an error message with bad bytes keeps its type and text in events.
func TestInvalidUTF8IsReadLossily(t *testing.T) {
	p, err := PolicyFromJSON(`{"jitter": "none", "budget": null}`)
	if err != nil {
		t.Fatal(err)
	}
	call, err := Begin(p, "lossy", VerbGet, RecoveryNone)
	if err != nil {
		t.Fatal(err)
	}
	defer call.Close()
	body := `{"kind":"Status","code":429,"reason":"TooManyRequests","message":"bad ` + "\xff" + ` byte","details":{"retryAfterSeconds":7}}`
	d, err := call.OnFailure(Failure{Status: 429, Body: body})
	// The hint from the body, spread by up to 20% (retry_after_spread).
	if err != nil || d.Action != ActionRetry || d.Delay < 7*time.Second || d.Delay > 8400*time.Millisecond {
		t.Fatalf("%+v %v", d, err)
	}
	var mu sync.Mutex
	var got []Event
	SetEventHandler(func(e Event) {
		if e.Function == "lossy_events" {
			mu.Lock()
			got = append(got, e)
			mu.Unlock()
		}
	})
	defer SetEventHandler(nil)
	_ = Do(context.Background(), fastPolicy(t, ""), func(context.Context) error { return badBytes{} },
		WithName("lossy_events"), WithVerb(VerbPost))
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].ErrorType != "k8sretry.badBytes" || !strings.Contains(got[0].Error, "\uFFFD") {
		t.Fatalf("events %+v", got)
	}
}

// A controller requeues with the delay the give-up carries instead of sleeping in a worker.
func TestTheGiveUpSaysWhenToRequeue(t *testing.T) {
	p, err := Preset("reconcile")
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	err = Do(context.Background(), p, func(context.Context) error {
		calls++
		return apierrors.NewTooManyRequests("slow down", 30)
	}, WithVerb(VerbGet), WithName("requeue_test"))
	var e *Error
	if !errors.As(err, &e) || e.Reason != GiveUpDeadline || e.RetryAfter != 30*time.Second || calls != 1 {
		t.Fatalf("%v (%+v), %d calls", err, e, calls)
	}
	if after, ok := RequeueAfter(err); !ok || after != 30*time.Second {
		t.Fatalf("RequeueAfter %v %v", after, ok)
	}
	if _, ok := RequeueAfter(notFound); ok {
		t.Fatal("a NotFound says when to requeue")
	}
}

// Do must be told what fn sends: without a verb or WithIdempotent it returns ErrNoVerb at once
// and never calls fn (it used to treat fn as safe to repeat, and a lost generateName create made
// two objects).
func TestDoRequiresAVerbOrIdempotent(t *testing.T) {
	p := fastPolicy(t, "")
	for _, opts := range [][]Option{nil, {WithName("no_verb")}} {
		called := false
		err := Do(context.Background(), p, func(context.Context) error { called = true; return nil }, opts...)
		if !errors.Is(err, ErrNoVerb) || called {
			t.Fatalf("%v, called %v", err, called)
		}
		for _, name := range []string{"WithVerb", "WithIdempotent"} {
			if !strings.Contains(err.Error(), name) {
				t.Fatalf("the error does not name %s: %v", name, err)
			}
		}
	}
	// A POST whose response was lost is not resent; the same fn declared idempotent is.
	n := 0
	lost := func(context.Context) error {
		n++
		if n == 1 {
			return syscall.ECONNRESET
		}
		return nil
	}
	err := Do(context.Background(), p, lost, WithVerb(VerbPost))
	var e *Error
	if !errors.As(err, &e) || e.Reason != GiveUpNotIdempotent || n != 1 {
		t.Fatalf("POST: %v after %d calls", err, n)
	}
	n = 0
	if err := Do(context.Background(), p, lost, WithIdempotent()); err != nil || n != 2 {
		t.Fatalf("idempotent: %v after %d calls", err, n)
	}
	n = 0
	if err := Do(context.Background(), p, lost, WithVerb(VerbPost), WithIdempotent()); err != nil || n != 2 {
		t.Fatalf("POST vouched idempotent: %v after %d calls", err, n)
	}
}

// WithRetryIf: the caller's own rule retries what the engine would not, within the policy.
func TestWithRetryIf(t *testing.T) {
	p := fastPolicy(t, `, "max_retries": 3`)
	notReady := errors.New("webhook not ready")
	n := 0
	err := Do(context.Background(), p, func(context.Context) error {
		n++
		if n < 3 {
			return notReady
		}
		return nil
	}, WithVerb(VerbGet), WithRetryIf(func(err error) bool { return errors.Is(err, notReady) }))
	if err != nil || n != 3 {
		t.Fatalf("%v after %d calls", err, n)
	}
	// The rule does not make resending a POST safe (it may have been carried out): WithIdempotent does.
	var e *Error
	n = 0
	err = Do(context.Background(), p, func(context.Context) error { n++; return notReady },
		WithVerb(VerbPost), WithRetryIf(func(error) bool { return true }))
	if !errors.As(err, &e) || e.Reason != GiveUpNotIdempotent || n != 1 {
		t.Fatalf("POST: %v after %d calls", err, n)
	}
	n = 0
	err = Do(context.Background(), p, func(context.Context) error {
		n++
		if n < 2 {
			return notReady
		}
		return nil
	}, WithVerb(VerbPost), WithIdempotent(), WithRetryIf(func(error) bool { return true }))
	if err != nil || n != 2 {
		t.Fatalf("POST vouched idempotent: %v after %d calls", err, n)
	}
	// Not matched: given up at once; matched forever: the policy's retries still end it.
	n = 0
	err = Do(context.Background(), p, func(context.Context) error { n++; return errors.New("other") },
		WithVerb(VerbGet), WithRetryIf(func(err error) bool { return errors.Is(err, notReady) }))
	if !errors.As(err, &e) || e.Reason != GiveUpNonRetryable || n != 1 {
		t.Fatalf("unmatched: %v after %d calls", err, n)
	}
	n = 0
	err = Do(context.Background(), p, func(context.Context) error { n++; return notReady },
		WithVerb(VerbGet), WithRetryIf(func(error) bool { return true }))
	if !errors.As(err, &e) || e.Reason != GiveUpMaxRetries || n != 4 {
		t.Fatalf("always: %v after %d calls", err, n)
	}
	// A cancelled context is never retried, whatever the rule says.
	ctx, cancel := context.WithCancel(context.Background())
	n = 0
	err = Do(ctx, p, func(ctx context.Context) error { n++; cancel(); return ctx.Err() },
		WithVerb(VerbGet), WithRetryIf(func(error) bool { return true }))
	if !errors.As(err, &e) || e.Reason != GiveUpCancelled || n != 1 {
		t.Fatalf("cancelled: %v after %d calls", err, n)
	}
}

// A budget that allows one retry per failure episode and nothing else.
const oneRetryBudget = `{"ratio": 0, "burst": 0, "min_per_second": 0, "min_per_episode": 1, "ttl": 10}`

// eventsOf collects the names of the events of the calls named function until the returned stop.
func eventsOf(function string) (names func() []string, stop func()) {
	var mu sync.Mutex
	var got []string
	SetEventHandler(func(e Event) {
		if e.Function == function {
			mu.Lock()
			got = append(got, e.Name+"/"+e.GiveUp.String())
			mu.Unlock()
		}
	})
	return func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), got...) }, func() { SetEventHandler(nil) }
}

// A retry the budget refuses waits (sends nothing) when the call has a deadline, and goes once
// the server answers again (another call's success, a second after the last failure, ends the
// failure episode); without a deadline the call gives up BudgetExhausted (after waiting out the
// young episode: here its retry slots run out first), having sent nothing more.
func TestDoWaitsForTheBudgetWithADeadline(t *testing.T) {
	names, stop := eventsOf("wait_test")
	defer stop()
	p, err := PolicyFromJSON(`{"initial_delay": 0.01, "max_delay": 0.02, "jitter": "none", "max_retries": 200, "deadline": 10, "budget": ` + oneRetryBudget + `}`)
	if err != nil {
		t.Fatal(err)
	}
	var sent []time.Time
	err = Do(context.Background(), p, func(context.Context) error {
		sent = append(sent, time.Now())
		if len(sent) == 2 {
			// The server is back for everybody else a second later (a success within a second of
			// a failure does not end the episode).
			go func() {
				time.Sleep(1100 * time.Millisecond)
				_ = Do(context.Background(), p, func(context.Context) error { return nil }, WithName("wait_other"), WithVerb(VerbGet))
			}()
		}
		if len(sent) < 3 {
			return syscall.ECONNREFUSED
		}
		return nil
	}, WithName("wait_test"), WithVerb(VerbGet))
	if err != nil || len(sent) != 3 {
		t.Fatalf("err %v after %d attempts", err, len(sent))
	}
	got := names()
	deferred := 0
	for _, n := range got {
		if n == "k8s_api_call_retry_deferred/None" {
			deferred++
		}
	}
	if deferred == 0 || got[len(got)-1] != "k8s_api_call_succeeded_after_retry/None" {
		t.Fatalf("events %v: want a deferral, then the success", got)
	}
	if gap := sent[2].Sub(sent[1]); gap < 20*time.Millisecond {
		t.Fatalf("the deferred retry went %v after the refused one: it did not wait", gap)
	}

	p, err = PolicyFromJSON(`{"initial_delay": 0.01, "max_delay": 0.02, "jitter": "none", "max_retries": 50, "budget": ` + oneRetryBudget + `}`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = Do(context.Background(), p, func(context.Context) error { n++; return syscall.ECONNREFUSED }, WithName("wait_test"), WithVerb(VerbGet))
	var e *Error
	if !errors.As(err, &e) || e.Reason != GiveUpBudgetExhausted || n != 2 {
		t.Fatalf("without a deadline: %v after %d attempts", err, n)
	}
}

// A cancel during a wait stops the call at once, as during a retry's sleep, and the engine
// counts it (the give-up event says Cancelled).
func TestDoStopsAtOnceWhenCancelledMidWait(t *testing.T) {
	names, stop := eventsOf("wait_cancel_test")
	defer stop()
	// The second slot's backoff is 10 s: the wait the refused retry gets.
	p, err := PolicyFromJSON(`{"initial_delay": 0.01, "exponential_base": 1000, "max_delay": 10, "jitter": "none", "deadline": 100, "budget": ` + oneRetryBudget + `}`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	start := time.Now()
	err = Do(ctx, p, func(context.Context) error {
		n++
		if n == 2 {
			time.AfterFunc(20*time.Millisecond, cancel)
		}
		return syscall.ECONNRESET
	}, WithName("wait_cancel_test"), WithVerb(VerbGet))
	var e *Error
	if !errors.As(err, &e) || e.Reason != GiveUpCancelled || !errors.Is(err, context.Canceled) || n != 2 {
		t.Fatalf("%v after %d attempts", err, n)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("did not stop at once: %v", time.Since(start))
	}
	got := names()
	if len(got) < 2 || got[len(got)-2] != "k8s_api_call_retry_deferred/None" || got[len(got)-1] != "k8s_api_call_failed_non_retryable/Cancelled" {
		t.Fatalf("events %v: want the deferral, then the cancel", got)
	}
}
