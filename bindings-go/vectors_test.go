package k8sretry

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

type vectorFailure struct {
	Status            int      `json:"status"`
	Reason            string   `json:"reason"`
	Body              string   `json:"body"`
	RetryAfter        string   `json:"retry_after"`
	RetryAfterSeconds int64    `json:"retry_after_seconds"`
	Codes             []string `json:"codes"`
	Timeout           bool     `json:"timeout"`
	Cancelled         bool     `json:"cancelled"`
	UserRetryable     bool     `json:"user_retryable"`
	Verb              string   `json:"verb"`
}

func (v vectorFailure) failure() Failure {
	return Failure{Status: v.Status, Reason: v.Reason, Body: v.Body, RetryAfter: v.RetryAfter,
		RetryAfterSeconds: v.RetryAfterSeconds, Codes: v.Codes, Timeout: v.Timeout, Cancelled: v.Cancelled,
		UserRetryable: v.UserRetryable, Verb: verbNamed(v.Verb)}
}

func verbNamed(name string) Verb {
	for i, n := range []string{"UNKNOWN", "GET", "LIST", "WATCH", "POST", "PUT", "PATCH", "DELETE"} {
		if n == name {
			return Verb(i)
		}
	}
	return VerbUnknown
}

func recoveryNamed(t *testing.T, name string) Recovery {
	for i, n := range []string{"none", "create", "create_adopt", "delete", "delete_missing_ok", "idempotent", "retry_conflict", "create_generated", "replace_stamped", "not_idempotent"} {
		if n == name {
			return Recovery(i)
		}
	}
	t.Fatalf("unknown recovery %q", name)
	return 0
}

func load(t *testing.T, name string, into any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "tests", "vectors", name))
	if os.IsNotExist(err) {
		t.Skipf("no ../tests/vectors/%s: outside the repository (the module from a proxy)", name)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, into); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func policyText(s *string) string {
	if s == nil {
		return "{}"
	}
	return *s
}

func TestClassificationVectors(t *testing.T) {
	var doc struct {
		Cases []struct {
			Name       string        `json:"name"`
			PolicyJSON *string       `json:"policy_json"`
			Failure    vectorFailure `json:"failure"`
			Class      string        `json:"class"`
			Retryable  bool          `json:"retryable"`
		} `json:"cases"`
	}
	load(t, "classification.json", &doc)
	for _, c := range doc.Cases {
		p, err := PolicyFromJSON(policyText(c.PolicyJSON))
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if got := Classify(p, c.Failure.failure()); got.String() != c.Class {
			t.Errorf("%s: class %s, want %s", c.Name, got, c.Class)
		}
		if got := IsRetryable(p, c.Failure.failure()); got != c.Retryable {
			t.Errorf("%s: retryable %v", c.Name, got)
		}
	}
}

func TestRetryAfterVectors(t *testing.T) {
	var doc struct {
		Now   float64 `json:"now"`
		Cases []struct {
			Name    string   `json:"name"`
			Value   string   `json:"value"`
			Seconds *float64 `json:"seconds"`
		} `json:"cases"`
	}
	load(t, "retry_after.json", &doc)
	now := time.Unix(int64(doc.Now), 0)
	for _, c := range doc.Cases {
		got, ok := ParseRetryAfter(c.Value, now)
		switch {
		case c.Seconds == nil && ok:
			t.Errorf("%s: want no hint, got %v", c.Name, got)
		case c.Seconds != nil && !ok:
			t.Errorf("%s: no hint, want %v", c.Name, *c.Seconds)
		case c.Seconds != nil && *c.Seconds < 1e9 && math.Abs(got.Seconds()-*c.Seconds) > 1e-6:
			t.Errorf("%s: %v, want %vs", c.Name, got, *c.Seconds)
		}
	}
}

type step struct {
	Op       string         `json:"op"`
	Call     string         `json:"call"`
	Function string         `json:"function"`
	Verb     string         `json:"verb"`
	Recovery string         `json:"recovery"`
	Failure  vectorFailure  `json:"failure"`
	Expect   map[string]any `json:"expect"`
	Attempts *int           `json:"attempts"`
	Seconds  float64        `json:"seconds"`
	Outcome  string         `json:"outcome"`
	Reader   *bool          `json:"reader"`
	Nested   bool           `json:"nested"`
}

var readOutcomes = map[string]ReadOutcome{"ours": ReadOurs, "not_ours": ReadNotOurs, "missing": ReadMissing, "failed": ReadFailed}

type scenario struct {
	Name       string        `json:"name"`
	PolicyJSON *string       `json:"policy_json"`
	StartUnix  float64       `json:"start_unix"`
	Steps      []step        `json:"steps"`
	Events     []vectorEvent `json:"events"`
}

// vectorEvent is an event as events.json writes it.
type vectorEvent struct {
	Function string  `json:"function"`
	Event    string  `json:"event"`
	Attempt  int     `json:"attempt"`
	Level    string  `json:"level"`
	GiveUp   *string `json:"give_up"`
}

func runScenarios(t *testing.T, file string) int {
	var doc struct {
		Scenarios []scenario `json:"scenarios"`
	}
	load(t, file, &doc)
	for _, s := range doc.Scenarios {
		runScenario(t, s)
	}
	return len(doc.Scenarios)
}

func runScenario(t *testing.T, s scenario) {
	{
		clock := NewManualClock(s.StartUnix)
		p, err := PolicyFromJSON(policyText(s.PolicyJSON), WithClock(clock))
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		calls := map[string]*Call{}
		for i, st := range s.Steps {
			id := st.Call
			if id == "" {
				id = "a"
			}
			call := calls[id]
			switch st.Op {
			case "begin":
				c, err := BeginCall(context.Background(), p, st.Function, CallOptions{
					Verb: verbNamed(st.Verb), Recovery: recoveryNamed(t, st.Recovery),
					HasReader: st.Reader == nil || *st.Reader, Nested: st.Nested,
				})
				if err != nil {
					t.Fatalf("%s step %d: %v", s.Name, i, err)
				}
				calls[id] = c
			case "fail":
				d, err := call.OnFailure(st.Failure.failure())
				checkDecision(t, s.Name, i, d, err, st.Expect)
			case "cancel":
				d, err := call.OnCancelled()
				checkDecision(t, s.Name, i, d, err, st.Expect)
			case "resume":
				d, err := call.Resume()
				checkDecision(t, s.Name, i, d, err, st.Expect)
			case "read_back":
				outcome, ok := readOutcomes[st.Outcome]
				if !ok {
					t.Fatalf("%s step %d: unknown outcome %q", s.Name, i, st.Outcome)
				}
				d, err := call.OnReadBack(outcome, st.Failure.failure())
				checkDecision(t, s.Name, i, d, err, st.Expect)
			case "succeed":
				if st.Attempts != nil && call.Attempts() != *st.Attempts {
					t.Errorf("%s step %d: attempts %d, want %d", s.Name, i, call.Attempts(), *st.Attempts)
				}
				must(t, call.OnSuccess())
			case "advance":
				clock.Advance(time.Duration(st.Seconds * float64(time.Second)))
			default:
				t.Fatalf("%s: unknown op %s", s.Name, st.Op)
			}
		}
		for _, c := range calls {
			c.Close()
		}
	}
}

// The events of each scenario, with the engine's level, through the process-wide handler.
func TestEventVectors(t *testing.T) {
	var doc struct {
		Scenarios []scenario `json:"scenarios"`
	}
	load(t, "events.json", &doc)
	var mu sync.Mutex
	var seen []vectorEvent
	SetEventHandler(func(e Event) {
		if e.Function != "f" && e.Function != "f/read_back" {
			return // another test's call
		}
		var giveUp *string
		if e.GiveUp != GiveUpNone {
			name := e.GiveUp.String()
			giveUp = &name
		}
		mu.Lock()
		seen = append(seen, vectorEvent{e.Function, e.Name, e.Attempt, e.Level.String(), giveUp})
		mu.Unlock()
	})
	defer SetEventHandler(nil)
	for _, s := range doc.Scenarios {
		mu.Lock()
		seen = nil
		mu.Unlock()
		runScenario(t, s)
		mu.Lock()
		got, _ := json.Marshal(seen)
		mu.Unlock()
		want, _ := json.Marshal(s.Events)
		if string(got) != string(want) && !(len(seen) == 0 && len(s.Events) == 0) {
			t.Errorf("%s: events\n%s\nwant\n%s", s.Name, got, want)
		}
	}
	if len(doc.Scenarios) < 15 {
		t.Fatalf("only %d event vectors", len(doc.Scenarios))
	}
}

// plan::choose through ChoosePlan, patch types by name or by Content-Type.
func TestPlanVectors(t *testing.T) {
	var doc struct {
		Cases []struct {
			Name    string `json:"name"`
			Request struct {
				Verb            string `json:"verb"`
				Resource        string `json:"resource"`
				Named           bool   `json:"named"`
				GenerateName    bool   `json:"generate_name"`
				ResourceVersion bool   `json:"resource_version"`
				Patch           string `json:"patch"`
				ContentType     string `json:"content_type"`
				ObjectBody      bool   `json:"object_body"`
				AdoptExisting   bool   `json:"adopt_existing"`
				CanGet          bool   `json:"can_get"`
				CanList         bool   `json:"can_list"`
				MissingOK       bool   `json:"missing_ok"`
			} `json:"request"`
			Recovery string `json:"recovery"`
			Stamp    string `json:"stamp"`
		} `json:"cases"`
	}
	load(t, "plans.json", &doc)
	patches := map[string]PatchType{"merge": PatchMerge, "strategic": PatchStrategic, "apply": PatchApply, "json": PatchJSON}
	stamps := map[string]Stamp{"none": StampNone, "annotation": StampAnnotation, "annotation_and_label": StampAnnotationAndLabel}
	for _, c := range doc.Cases {
		r := c.Request
		patch := PatchTypeFromContentType(r.ContentType)
		if r.Patch != "" {
			patch = patches[r.Patch]
		}
		recovery, stamp, err := ChoosePlan(Request{
			Verb: verbNamed(r.Verb), Resource: r.Resource, Named: r.Named, GenerateName: r.GenerateName,
			ResourceVersion: r.ResourceVersion, Patch: patch, ObjectBody: r.ObjectBody, AdoptExisting: r.AdoptExisting,
			CanGet: r.CanGet, CanList: r.CanList, MissingOK: r.MissingOK,
		})
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if recovery != recoveryNamed(t, c.Recovery) || stamp != stamps[c.Stamp] {
			t.Errorf("%s: %v/%v, want %s/%s", c.Name, recovery, stamp, c.Recovery, c.Stamp)
		}
	}
	if len(doc.Cases) < 40 {
		t.Fatalf("only %d plan vectors", len(doc.Cases))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func checkDecision(t *testing.T, name string, i int, d Decision, err error, expect map[string]any) {
	t.Helper()
	if expect["decision"] == "error" {
		if !errors.Is(err, ErrOutOfOrder) {
			t.Errorf("%s step %d: %+v, %v: want a step-out-of-order error", name, i, d, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s step %d: %v", name, i, err)
	}
	want, known := map[string]Action{"retry": ActionRetry, "read_back": ActionReadBack, "done": ActionDone, "recovered": ActionRecovered, "give_up": ActionGiveUp, "wait": ActionWait}[expect["decision"].(string)]
	if !known {
		t.Fatalf("%s step %d: unknown decision %v", name, i, expect["decision"])
	}
	if d.Action != want {
		t.Errorf("%s step %d: %+v, want %v", name, i, d, expect)
		return
	}
	if delay, ok := expect["delay"].(float64); ok && math.Abs(d.Delay.Seconds()-delay) > 1e-6 {
		t.Errorf("%s step %d: delay %v, want %v", name, i, d.Delay, delay)
	}
	if reason, ok := expect["reason"]; ok && d.Reason.String() != reason {
		t.Errorf("%s step %d: reason %s, want %v", name, i, d.Reason, reason)
	}
}

func TestDelayVectors(t *testing.T) {
	if n := runScenarios(t, "delays.json"); n < 25 {
		t.Fatalf("only %d delay scenarios", n)
	}
}

func TestDecisionVectors(t *testing.T) {
	if n := runScenarios(t, "decisions.json"); n < 50 {
		t.Fatalf("only %d decision scenarios", n)
	}
}
