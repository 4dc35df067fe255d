// A fleet of client processes against the real apiserver behind the fault proxy while the
// apiserver is stopped for 30 s (issue #22 item 6): 20 Go processes (client-go through
// k8sretry.WrapTransport, this test binary started again as TestFleetClient) and 20 Python processes
// (the `kubernetes` client through wrap_client, tests/e2e/python/fleet_client.py), each with its
// own process-wide retry budget, each making 1 call per second (a GET of one ConfigMap) with a
// policy whose deadline (60 s) and schedule outlast the outage. Attempts are counted at the proxy
// (its stats endpoint), first attempts by the processes; the processes also count what they sent,
// which must add up to the proxy's count.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	k8sretry "k8sretry.dev/go"
)

const (
	fleetRate     = 1.0 // calls per second per process
	fleetBefore   = 10 * time.Second
	fleetOutage   = 30 * time.Second // from the stop until the start begins; the start takes a few more
	fleetAfter    = 25 * time.Second // new calls keep coming this long after the start began
	fleetDeadline = 60.0             // seconds: every call's deadline
	// The policy of every client: the deadline, and a schedule that reaches past the outage
	// (0.5 s doubling to 8 s: the 10th retry is 55.5 s after the first attempt). Its budget is the
	// default: one per process.
	fleetPolicy = `{"max_retries": 12, "initial_delay": 0.5, "max_delay": 8, "deadline": 60}`
)

// fleetCall is one call as a client reports it: start and end (unix seconds), ok, give-up
// reason, attempts sent.
type fleetCall struct {
	start, end float64
	ok         bool
	reason     string
	attempts   int
}

func (c *fleetCall) UnmarshalJSON(data []byte) error {
	var raw [5]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	c.start, _ = raw[0].(float64)
	c.end, _ = raw[1].(float64)
	c.ok, _ = raw[2].(bool)
	c.reason, _ = raw[3].(string)
	attempts, _ := raw[4].(float64)
	c.attempts = int(attempts)
	return nil
}

// fleetReport is a client process's last line, `FLEET {json}`.
type fleetReport struct {
	Lang   string         `json:"lang"`
	Calls  []fleetCall    `json:"calls"`
	Sent   int            `json:"sent"`
	Events map[string]int `json:"events"`
}

type countingRT struct {
	next http.RoundTripper
	sent *atomic.Int64
}

// callAttempts is the context key of a call's attempt counter.
type callAttempts struct{}

func (c countingRT) RoundTrip(req *http.Request) (*http.Response, error) {
	c.sent.Add(1)
	if n, ok := req.Context().Value(callAttempts{}).(*atomic.Int64); ok {
		n.Add(1)
	}
	return c.next.RoundTrip(req)
}

// TestFleetClient is one Go client process of TestFleet (K8SRETRY_FLEET_CLIENT=1; see
// tests/e2e/python/fleet_client.py for the protocol, which both follow).
func TestFleetClient(t *testing.T) {
	if os.Getenv("K8SRETRY_FLEET_CLIENT") != "1" {
		t.Skip("a client process of TestFleet")
	}
	rate, _ := strconv.ParseFloat(os.Getenv("FLEET_RATE"), 64)
	seconds, _ := strconv.ParseFloat(os.Getenv("FLEET_SECONDS"), 64)
	ns := os.Getenv("FLEET_NAMESPACE")
	if rate <= 0 || seconds <= 0 || ns == "" {
		t.Fatal("FLEET_RATE, FLEET_SECONDS and FLEET_NAMESPACE are needed")
	}
	policy, err := k8sretry.PolicyFromJSON(os.Getenv("FLEET_POLICY"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	events := map[string]int{}
	k8sretry.SetEventHandler(func(e k8sretry.Event) {
		mu.Lock()
		events[e.Name]++
		mu.Unlock()
	})
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("FLEET_KUBECONFIG"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 100, 100
	var sent atomic.Int64
	wrap := k8sretry.WrapTransport(policy)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return wrap(countingRT{rt, &sent}) }
	cs := kubernetes.NewForConfigOrDie(cfg)

	fmt.Println("READY")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	fields := strings.Fields(line)
	if err != nil || len(fields) != 2 || fields[0] != "GO" {
		t.Fatalf("expected `GO <unix time>`, got %q (%v)", line, err)
	}
	at, err := strconv.ParseFloat(fields[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Unix(0, int64(at*1e9)).Add(time.Duration(rand.Float64() / rate * float64(time.Second)))
	total := int(seconds * rate)
	calls := make([]fleetCall, total)
	var wg sync.WaitGroup
	for i := range calls {
		time.Sleep(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
		wg.Add(1)
		go func(c *fleetCall) {
			defer wg.Done()
			c.start = unixNow()
			var attempts atomic.Int64
			ctx := context.WithValue(context.Background(), callAttempts{}, &attempts)
			_, err := cs.CoreV1().ConfigMaps(ns).Get(ctx, "target", metav1.GetOptions{})
			c.end, c.ok, c.attempts = unixNow(), err == nil, int(attempts.Load())
			var e *k8sretry.Error
			switch {
			case err == nil:
			case errors.As(err, &e):
				c.reason = e.Reason.String()
			default:
				c.reason = fmt.Sprintf("%T", err)
			}
		}(&calls[i])
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	out := map[string]any{"lang": "go", "sent": sent.Load(), "events": events}
	rows := make([][5]any, len(calls))
	for i, c := range calls {
		var reason any
		if c.reason != "" {
			reason = c.reason
		}
		rows[i] = [5]any{c.start, c.end, c.ok, reason, c.attempts}
	}
	out["calls"] = rows
	data, _ := json.Marshal(out)
	fmt.Println("FLEET " + string(data))
}

func unixNow() float64 { return float64(time.Now().UnixNano()) / 1e9 }

// fleetProcess is a started client process and what it printed.
type fleetProcess struct {
	lang   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	ready  chan struct{}
	report *fleetReport
	stderr *tailBuffer
	done   chan error
}

// tailBuffer keeps the last 4 KiB written to it (a client's stderr, shown when it fails).
type tailBuffer struct {
	mu   sync.Mutex
	data []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.data = append(b.data, p...)
	if len(b.data) > 4096 {
		b.data = b.data[len(b.data)-4096:]
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.data)
}

func startFleetProcess(t *testing.T, lang string, argv []string, extraEnv []string) *fleetProcess {
	t.Helper()
	// The clients stand for pods on other machines: niced, so that on this one they do not take
	// the CPU the apiserver and the proxy need to answer them.
	argv = append([]string{"nice", "-n", "10"}, argv...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), extraEnv...)
	p := &fleetProcess{lang: lang, cmd: cmd, ready: make(chan struct{}), stderr: &tailBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s client %v: %v", lang, argv, err)
	}
	go func() {
		scanner := bufio.NewScanner(stdout)
		scanner.Buffer(make([]byte, 1<<20), 16<<20)
		for scanner.Scan() {
			line := scanner.Text()
			switch {
			case line == "READY":
				close(p.ready)
			case strings.HasPrefix(line, "FLEET "):
				var r fleetReport
				if err := json.Unmarshal([]byte(line[len("FLEET "):]), &r); err == nil {
					p.report = &r
				} else {
					fmt.Fprintf(p.stderr, "\nbad FLEET line: %v", err)
				}
			}
		}
		p.done <- cmd.Wait()
	}()
	return p
}

// proxyStats is what the proxy counted since its plan was last set (tests/cluster/faults.py).
type proxyStats struct {
	Requests    int            `json:"requests"`
	Unreachable int            `json:"unreachable"` // answered 502 while the apiserver was away
	Connections int            `json:"connections"` // client connections (TLS handshakes)
	Agents      map[string]int `json:"agents"`      // requests by User-Agent (up to its first "/")
}

func fleetStats(t *testing.T) proxyStats {
	t.Helper()
	var s proxyStats
	proxyCall(t, "GET", "stats", nil, &s)
	return s
}

func TestFleet(t *testing.T) {
	if os.Getenv("K8SRETRY_FLEET_CLIENT") == "1" {
		t.Skip("this process is a client")
	}
	nGo, nPython := envInt("K8SRETRY_FLEET_GO", 20), envInt("K8SRETRY_FLEET_PYTHON", 20)
	python := os.Getenv("K8SRETRY_FLEET_PYTHON_BIN")
	if python == "" {
		python = filepath.Join("..", "..", "..", ".cache", "build", "py-test", "bin", "python")
	}
	if _, err := os.Stat(python); nPython > 0 && err != nil {
		t.Fatalf("no Python with k8sretry and kubernetes at %s (make py-env; or K8SRETRY_FLEET_PYTHON_BIN): %v", python, err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	direct := clientset(t, env["KUBECONFIG"])
	ns := namespace(t, direct)
	if _, err := direct.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "target"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	plan(t, 1) // no faults but the outage; the proxy's request count starts at 0
	clientSeconds := (fleetBefore + fleetOutage + fleetAfter).Seconds()
	common := []string{
		"FLEET_KUBECONFIG=" + env["KUBECONFIG_PROXY"], "FLEET_NAMESPACE=" + ns,
		"FLEET_RATE=" + strconv.FormatFloat(fleetRate, 'f', -1, 64),
		"FLEET_SECONDS=" + strconv.FormatFloat(clientSeconds, 'f', -1, 64),
		"FLEET_POLICY=" + fleetPolicy,
	}
	var procs []*fleetProcess
	t.Cleanup(func() { // nothing left running, whatever happened
		for _, p := range procs {
			if p.cmd.ProcessState == nil {
				_ = p.cmd.Process.Kill()
			}
		}
	})
	setup := time.Now()
	for i := 0; i < nGo; i++ {
		procs = append(procs, startFleetProcess(t, "go", []string{exe, "-test.run", "^TestFleetClient$"}, append(common, "K8SRETRY_FLEET_CLIENT=1")))
	}
	for i := 0; i < nPython; i++ {
		procs = append(procs, startFleetProcess(t, "python", []string{python, filepath.Join("..", "python", "fleet_client.py")}, common))
	}
	for _, p := range procs {
		select {
		case <-p.ready:
		case err := <-p.done:
			t.Fatalf("%s client exited before READY: %v\n%s", p.lang, err, p.stderr)
		case <-time.After(3 * time.Minute):
			t.Fatalf("%s client not READY after 3 minutes\n%s", p.lang, p.stderr)
		}
	}
	setupTook := time.Since(setup)
	base := fleetStats(t)
	goAt := time.Now().Add(time.Second)
	for _, p := range procs {
		if _, err := fmt.Fprintf(p.stdin, "GO %.6f\n", float64(goAt.UnixNano())/1e9); err != nil {
			t.Fatal(err)
		}
		p.stdin.Close()
	}

	time.Sleep(time.Until(goAt.Add(fleetBefore)))
	apiserver(t, "stop")
	down, atDown := time.Now(), fleetStats(t)
	time.Sleep(time.Until(down.Add(fleetOutage)))
	apiserver(t, "start")
	ready, atReady := time.Now(), fleetStats(t)
	time.Sleep(time.Until(ready.Add(10 * time.Second)))
	atAfter := fleetStats(t)

	limit := time.After(time.Until(goAt.Add(time.Duration(clientSeconds*float64(time.Second)) + time.Duration(fleetDeadline*float64(time.Second)) + 30*time.Second)))
	failedProcs := 0
	for _, p := range procs {
		select {
		case err := <-p.done:
			if err != nil || p.report == nil {
				failedProcs++
				t.Errorf("%s client: exit %v, report %v\n%s", p.lang, err, p.report != nil, p.stderr)
			}
		case <-limit:
			t.Fatalf("%s client still running past its calls' deadlines\n%s", p.lang, p.stderr)
		}
	}
	final := fleetStats(t)
	if failedProcs > 0 {
		t.FailNow()
	}

	type tally struct {
		procs, calls, ok, first, sent int
		reasons, events               map[string]int
	}
	by := map[string]*tally{}
	all := &tally{reasons: map[string]int{}, events: map[string]int{}}
	downS, readyS := float64(down.UnixNano())/1e9, float64(ready.UnixNano())/1e9
	afterS := readyS + 10
	firstAfter := 0
	for _, p := range procs {
		tl := by[p.lang]
		if tl == nil {
			tl = &tally{reasons: map[string]int{}, events: map[string]int{}}
			by[p.lang] = tl
		}
		if want := int(clientSeconds * fleetRate); len(p.report.Calls) != want {
			t.Errorf("%s client reported %d calls, want %d", p.lang, len(p.report.Calls), want)
		}
		for _, x := range []*tally{tl, all} {
			x.procs++
			x.sent += p.report.Sent
			for k, v := range p.report.Events {
				x.events[k] += v
			}
			for _, c := range p.report.Calls {
				x.calls++
				if c.ok {
					x.ok++
				} else {
					x.reasons[c.reason]++
				}
				if c.start >= downS && c.start < readyS {
					x.first++
				}
				if c.end < c.start {
					t.Errorf("%s call never ended: %+v", p.lang, c)
				}
			}
		}
		for _, c := range p.report.Calls {
			if c.start >= readyS && c.start < afterS {
				firstAfter++
			}
		}
	}
	if out := os.Getenv("K8SRETRY_FLEET_OUT"); out != "" { // every call, for a closer look
		type dumpProc struct {
			Lang  string   `json:"lang"`
			Calls [][5]any `json:"calls"`
		}
		dump := struct {
			Down, Ready float64
			Procs       []dumpProc
		}{Down: downS, Ready: readyS}
		for _, p := range procs {
			d := dumpProc{Lang: p.lang}
			for _, c := range p.report.Calls {
				d.Calls = append(d.Calls, [5]any{c.start, c.end, c.ok, c.reason, c.attempts})
			}
			dump.Procs = append(dump.Procs, d)
		}
		data, _ := json.Marshal(dump)
		if err := os.WriteFile(out, data, 0o644); err != nil {
			t.Error(err)
		}
	}
	outageSeconds := ready.Sub(down).Seconds()
	attempts := atReady.Requests - atDown.Requests
	amplification := float64(attempts) / math.Max(1, float64(all.first))
	afterAttempts := atAfter.Requests - atReady.Requests
	after := float64(afterAttempts) / math.Max(1, float64(firstAfter))
	counted := final.Requests - base.Requests
	agents := map[string]int{}
	for k, v := range final.Agents {
		if d := v - base.Agents[k]; d != 0 {
			agents[k] = d
		}
	}
	perLang := []string{}
	langs := []string{}
	for lang := range by {
		langs = append(langs, lang)
	}
	sort.Strings(langs)
	for _, lang := range langs {
		tl := by[lang]
		perLang = append(perLang, fmt.Sprintf("%s: %d processes, %d calls, %d ok, %d sent, failed %v, events %v", lang, tl.procs, tl.calls, tl.ok, tl.sent, tl.reasons, tl.events))
	}
	fleetFigure = fmt.Sprintf("fleet: %d processes (%d Go, %d Python) x %.0f call/s, apiserver down %.1f s (stopped %.0f s + start); "+
		"during the outage %d attempts at the proxy (%d answered 502 unreachable) for %d first attempts: %.2f per first attempt (the budget rule's bound %.2f); "+
		"10 s after ready: %d attempts for %d first attempts (%.2f); calls %d, ok %d (%.2f%%); sent by the clients %d, counted at the proxy %d %v over %d connections; setup %.1f s\n  %s",
		len(procs), nGo, nPython, fleetRate, outageSeconds, fleetOutage.Seconds(), attempts, atReady.Unreachable-atDown.Unreachable, all.first, amplification, fleetBound(outageSeconds, fleetRate),
		afterAttempts, firstAfter, after, all.calls, all.ok, 100*float64(all.ok)/math.Max(1, float64(all.calls)),
		all.sent, counted, agents, final.Connections-base.Connections, setupTook.Seconds(), strings.Join(perLang, "\n  "))
	fmt.Println(fleetFigure)
	opsDone += all.calls

	if outageSeconds > fleetDeadline-10 {
		t.Fatalf("the apiserver was away %.1f s: the calls' %.0f s deadline does not outlast it by 10 s, nothing to test", outageSeconds, fleetDeadline)
	}
	if want := 0.9 * float64(len(procs)) * fleetRate * outageSeconds; float64(all.first) < want {
		t.Errorf("only %d first attempts during the outage, want >= %.0f", all.first, want)
	}
	// Every call's deadline outlasts the outage by 10 s or more (checked above): every call succeeds.
	if all.ok != all.calls {
		t.Errorf("%d of %d calls failed: %v", all.calls-all.ok, all.calls, all.reasons)
	}
	if bound := fleetBound(outageSeconds, fleetRate); amplification > bound {
		t.Errorf("attempts per first attempt during the outage %.2f > %.2f (the budget rule's bound)", amplification, bound)
	}
	// Nothing left behind: every attempt a client sent reached the proxy and nothing else did.
	if all.sent != counted {
		t.Errorf("the clients sent %d requests, the proxy counted %d", all.sent, counted)
	}
}

// The default retry budget of every process (core/src/budget.rs: DEFAULT_RATIO, DEFAULT_BURST,
// DEFAULT_MIN_PER_EPISODE, DEFAULT_TTL, FADE_SHORTEST_SECONDS .. FADE_LONGEST_SECONDS over
// FADE_FULL_DEPOSITS, EPISODE_ONSET_SECONDS; no per-second floor).
const (
	budgetRatio         = 0.1
	budgetBurst         = 3.0
	budgetMinPerEpisode = 3.0
	budgetTTL           = 10.0 // seconds
	budgetFadeShortest  = 1.0
	budgetFadeLongest   = 5.0
	budgetFadeFull      = 20.0
	budgetOnset         = 0.5
)

// fleetBound is the most attempts per first attempt the budget rule lets one process (and so the
// fleet: the processes are alike) send during an outage of `seconds` at `rate` first attempts per
// second. The rule: a retry is taken while the episode has taken fewer than min_per_episode, or
// while the withdrawals of the last ttl stay below ratio·deposits + (burst - ratio)·D0 / (1 +
// (age/tau)^4), D0 the deposits when the episode began (the window's, rate·(ttl + onset) at most),
// tau from 1 to 5 s with D0. Cut the outage into windows of ttl: window k takes at most
// ratio·rate·ttl + (burst - ratio)·D0·g(k) retries, g(0) = 1, g(k) = 1/(1 + (k·ttl/tau)^4), plus
// one for two calls racing for the last token; plus min_per_episode once. Most of it is the burst
// of the first seconds, (burst - ratio)·D0, which an outage pays once.
func fleetBound(seconds, rate float64) float64 {
	d0 := rate * (budgetTTL + budgetOnset)
	tau := budgetFadeShortest + (budgetFadeLongest-budgetFadeShortest)*math.Min(1, d0/budgetFadeFull)
	windows := math.Ceil(seconds / budgetTTL)
	retries := budgetMinPerEpisode
	for k := 0.0; k < windows; k++ {
		x := k * budgetTTL / tau
		retries += 1 + budgetRatio*rate*budgetTTL + (budgetBurst-budgetRatio)*d0/(1+x*x*x*x)
	}
	return 1 + retries/(rate*seconds)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v >= 0 {
		return v
	}
	return def
}
