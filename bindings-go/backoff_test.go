package k8sretry

import (
	"errors"
	"math"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/util/retry"
)

// delays reports 503s to a fresh call until it gives up and returns the delays it asked for.
func delays(t *testing.T, p *Policy) []time.Duration {
	t.Helper()
	// The policy's budget is the process-wide one, which earlier tests may have left deep in a
	// failure episode (no per-second floor any more): a success ends it.
	up, err := Begin(p, "backoff_test_up", VerbGet, RecoveryNone)
	if err != nil {
		t.Fatal(err)
	}
	must(t, up.OnSuccess())
	up.Close()
	call, err := Begin(p, "backoff_test", VerbGet, RecoveryNone)
	if err != nil {
		t.Fatal(err)
	}
	defer call.Close()
	var out []time.Duration
	for i := 0; i < 100; i++ {
		d, err := call.OnFailure(Failure{Status: 503})
		if err != nil {
			t.Fatal(err)
		}
		if d.Action != ActionRetry {
			if d.Reason != GiveUpMaxRetries {
				t.Fatalf("gave up with %s", d.Reason)
			}
			return out
		}
		out = append(out, d.Delay)
	}
	t.Fatal("never gave up")
	return nil
}

func near(a, b time.Duration) bool { return math.Abs(float64(a-b)) < float64(time.Microsecond) }

func TestPolicyFromBackoff(t *testing.T) {
	// Without jitter the delays are the Backoff's own steps.
	b := wait.Backoff{Duration: 100 * time.Millisecond, Factor: 3, Steps: 5}
	p, err := PolicyFromBackoff(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.MaxRetries() != 4 {
		t.Fatalf("max retries %d, want Steps-1 = 4", p.MaxRetries())
	}
	got, steps := delays(t, p), b
	for i, d := range got {
		if want := steps.Step(); !near(d, want) {
			t.Fatalf("delay %d: %v, want the Backoff's %v (all: %v)", i, d, want, got)
		}
	}
	if len(got) != 4 {
		t.Fatalf("%d retries: %v", len(got), got)
	}
	// Cap: the delay stops growing there.
	p, _ = PolicyFromBackoff(wait.Backoff{Duration: time.Second, Factor: 2, Steps: 6, Cap: 5 * time.Second})
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, d := range delays(t, p) {
		if !near(d, want[i]) {
			t.Fatalf("capped delay %d: %v, want %v", i, d, want[i])
		}
	}
	// client-go's retry.DefaultBackoff and DefaultRetry: jitter spreads each step by at most Jitter.
	for _, b := range []wait.Backoff{retry.DefaultBackoff, retry.DefaultRetry} {
		p, err := PolicyFromBackoff(b)
		if err != nil {
			t.Fatal(err)
		}
		steps := b
		steps.Jitter = 0
		for i, d := range delays(t, p) {
			base := steps.Step()
			if float64(d) < float64(base)*(1-b.Jitter)-1e3 || float64(d) > float64(base)*(1+b.Jitter)+1e3 {
				t.Fatalf("%+v delay %d: %v outside %v ± %.0f%%", b, i, d, base, b.Jitter*100)
			}
		}
		if p.MaxRetries() != b.Steps-1 {
			t.Fatalf("%+v: %d retries", b, p.MaxRetries())
		}
	}
	// Factor 0 does not grow; one step means no retry.
	p, _ = PolicyFromBackoff(wait.Backoff{Duration: 50 * time.Millisecond, Steps: 3})
	if d := delays(t, p); len(d) != 2 || !near(d[0], 50*time.Millisecond) || !near(d[1], 50*time.Millisecond) {
		t.Fatalf("factor 0: %v", d)
	}
	p, _ = PolicyFromBackoff(wait.Backoff{Duration: time.Second, Steps: 1})
	if d := delays(t, p); len(d) != 0 {
		t.Fatalf("one step: %v", d)
	}
	for _, bad := range []wait.Backoff{{Steps: 0}, {Steps: 3, Factor: 0.5}, {Steps: 3, Jitter: 2}, {Steps: 2, Duration: -1}} {
		if _, err := PolicyFromBackoff(bad); !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}
