//go:build cgo

package k8sretry

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// PolicyFromBackoff builds a policy from an apimachinery wait.Backoff (retry.DefaultBackoff,
// retry.DefaultRetry, a controller's own): Steps-1 retries, Duration the first delay, Factor the
// exponential base (0: no growth), Cap the largest delay (0: none, the last step's delay), Jitter
// as proportional jitter. What the Backoff does not say (which failures are retried, Retry-After,
// the budget) is the default preset's.
//
// Differences: wait.Backoff's jitter only lengthens a delay (d to d*(1+Jitter)) where
// proportional jitter spreads it both ways (d*(1-Jitter) to d*(1+Jitter)); a delay that reaches
// Cap stays there for the remaining retries instead of ending them; a server's Retry-After can
// ask for longer than Cap. Factor below 1 and Jitter above 1 are refused (ErrInvalidPolicy).
func PolicyFromBackoff(b wait.Backoff, opts ...PolicyOption) (*Policy, error) {
	if b.Steps < 1 {
		return nil, fmt.Errorf("%w: wait.Backoff.Steps must be at least 1 (one attempt), got %d", ErrInvalidPolicy, b.Steps)
	}
	if b.Duration < 0 || b.Cap < 0 || b.Jitter < 0 || b.Factor < 0 {
		return nil, fmt.Errorf("%w: wait.Backoff fields must not be negative: %+v", ErrInvalidPolicy, b)
	}
	base := b.Factor
	if base == 0 {
		base = 1
	}
	maxDelay := b.Cap
	if maxDelay == 0 {
		// No cap: the largest delay the backoff reaches, before its last attempt.
		maxDelay = b.Duration
		if b.Steps > 2 {
			maxDelay = time.Duration(math.Min(float64(b.Duration)*math.Pow(base, float64(b.Steps-2)), float64(365*24*time.Hour)))
		}
	}
	config := map[string]any{
		"preset":           "default",
		"max_retries":      b.Steps - 1,
		"initial_delay":    b.Duration.Seconds(),
		"max_delay":        maxDelay.Seconds(),
		"exponential_base": base,
		"jitter":           "none",
	}
	if b.Jitter > 0 {
		config["jitter"] = b.Jitter
	}
	text, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	p, err := PolicyFromJSON(string(text), opts...)
	if err != nil {
		return nil, fmt.Errorf("wait.Backoff %+v: %w", b, err)
	}
	return p, nil
}
