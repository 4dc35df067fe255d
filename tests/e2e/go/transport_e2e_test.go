package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	k8sretry "k8sretry.dev/go"
)

// counted counts the requests a transport sends (below k8sretry's: the engine's attempts).
type counted struct {
	next http.RoundTripper
	n    *atomic.Int32
}

func (c counted) RoundTrip(req *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.next.RoundTrip(req)
}

// crClient is controller-runtime's client over the faulted apiserver; wrap (nil for none) is the
// config's WrapTransport; sent counts the requests that leave below it.
func crClient(t *testing.T, wrap func(http.RoundTripper) http.RoundTripper) (client.Client, *atomic.Int32) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", env["KUBECONFIG_PROXY"])
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 1000, 1000
	sent := &atomic.Int32{}
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		rt = counted{rt, sent}
		if wrap != nil {
			rt = wrap(rt)
		}
		return rt
	}
	c, err := client.New(rest.CopyConfig(cfg), client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c, sent
}

func proxyRequests(t *testing.T) int {
	var stats struct {
		Requests int `json:"requests"`
	}
	proxyCall(t, "GET", "stats", nil, &stats)
	return stats.Requests
}

// engineAttempts follows the events of one call name: the attempt of its last event.
type engineAttempts struct {
	mu   sync.Mutex
	last map[string]k8sretry.Event
}

func watchEvents() *engineAttempts {
	e := &engineAttempts{last: map[string]k8sretry.Event{}}
	k8sretry.SetEventHandler(func(ev k8sretry.Event) {
		e.mu.Lock()
		e.last[ev.Function] = ev
		e.mu.Unlock()
	})
	return e
}

func (e *engineAttempts) of(function string) k8sretry.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.last[function]
}

// controller-runtime's client through WrapTransport: the apiserver sees exactly the attempts the
// engine decided. 429s with Retry-After: 0 make client-go's REST client retry by itself up to 10
// times per request; through k8sretry.Do (3 retries) that is 4 engine attempts and 44 requests,
// through WrapTransport 4 and 4.
func TestControllerRuntimeSeesTheEnginesAttempts(t *testing.T) {
	ctx := context.Background()
	direct := clientset(t, env["KUBECONFIG"])
	ns := namespace(t, direct)
	if _, err := direct.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "target"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	events := watchEvents()
	defer k8sretry.SetEventHandler(nil)
	policy, err := k8sretry.PolicyFromJSON(`{"max_retries": 3, "initial_delay": 0.05, "max_delay": 0.2, "budget": null}`)
	if err != nil {
		t.Fatal(err)
	}
	key := client.ObjectKey{Namespace: ns, Name: "target"}
	throttle := func(count int) {
		plan(t, 1, map[string]any{"method": "GET", "path": "/configmaps/target$", "fault": "429", "retry_after": "0", "count": count})
	}

	// Today: k8sretry.Do around controller-runtime's client without WrapTransport.
	plain, _ := crClient(t, nil)
	if err := plain.Get(ctx, key, &corev1.ConfigMap{}); err != nil { // discovery and the REST mapper, before the plan
		t.Fatal(err)
	}
	throttle(1000)
	doAttempts := 0
	err = k8sretry.Do(ctx, policy, func(ctx context.Context) error {
		doAttempts++
		return plain.Get(ctx, key, &corev1.ConfigMap{})
	}, k8sretry.WithVerb(k8sretry.VerbGet), k8sretry.WithName("cr_do"))
	doServer := proxyRequests(t)
	if !apierrors.IsTooManyRequests(err) || doAttempts != 4 || doServer != 44 {
		t.Fatalf("Do without WrapTransport: %v, %d attempts, %d requests at the server", err, doAttempts, doServer)
	}

	// WrapTransport: the give-up after 3 retries is final.
	plan(t, 1)
	wrapped, sent := crClient(t, k8sretry.WrapTransport(policy))
	if err := wrapped.Get(ctx, key, &corev1.ConfigMap{}); err != nil {
		t.Fatal(err)
	}
	throttle(1000)
	sent.Store(0)
	err = wrapped.Get(ctx, key, &corev1.ConfigMap{})
	giveUp := events.of("get_configmaps")
	server := proxyRequests(t)
	if !apierrors.IsTooManyRequests(err) || giveUp.Name != "k8s_api_call_failed_max_retries" || giveUp.Attempt != 4 || sent.Load() != 4 || server != 4 {
		t.Fatalf("WrapTransport give-up: %v, engine %s at attempt %d, %d sent, %d at the server", err, giveUp.Name, giveUp.Attempt, sent.Load(), server)
	}
	// Two 429s, then the answer: 3 attempts, 3 requests.
	throttle(2)
	sent.Store(0)
	if err := wrapped.Get(ctx, key, &corev1.ConfigMap{}); err != nil {
		t.Fatal(err)
	}
	ok := events.of("get_configmaps")
	if server := proxyRequests(t); ok.Name != "k8s_api_call_succeeded_after_retry" || ok.Attempt != 3 || sent.Load() != 3 || server != 3 {
		t.Fatalf("WrapTransport success: engine %s at attempt %d, %d sent, %d at the server", ok.Name, ok.Attempt, sent.Load(), server)
	}
	attemptsReport = fmt.Sprintf("429 with Retry-After: 0, 3 retries: k8sretry.Do %d engine attempts / %d requests at the apiserver; WrapTransport %d / %d (and %d / %d when the third attempt succeeds)",
		doAttempts, doServer, giveUp.Attempt, 4, ok.Attempt, 3)
	t.Log(attemptsReport)

	// A LIST (a collection's GET) under 503s and a merge patch under 429s, through the same client.
	plan(t, 1,
		map[string]any{"method": "GET", "path": "/configmaps$", "fault": "503", "retry_after": "0", "count": 2},
		map[string]any{"method": "PATCH", "path": "/configmaps/target$", "fault": "429", "retry_after": "0", "count": 2},
	)
	var list corev1.ConfigMapList
	if err := wrapped.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "target"}}
	if err := wrapped.Patch(ctx, cm, client.RawPatch("application/merge-patch+json", []byte(`{"data":{"patched":"yes"}}`))); err != nil {
		t.Fatal(err)
	}
	if server := proxyRequests(t); server != 6 || events.of("list_configmaps").Attempt != 3 || events.of("patch_configmaps").Attempt != 3 {
		t.Fatalf("list and patch: %d requests at the server, engine %+v %+v", server, events.of("list_configmaps"), events.of("patch_configmaps"))
	}
	opsDone += 6
	plan(t, 1)
}

// A generateName create whose response is lost is never sent twice: through WrapTransport with
// controller-runtime's client, and through Do with the verb (without one, Do refuses to run).
func TestLostGenerateNameCreateMakesOneObject(t *testing.T) {
	ctx := context.Background()
	direct, faulted := clientset(t, env["KUBECONFIG"]), clientset(t, env["KUBECONFIG_PROXY"])
	ns := namespace(t, direct)
	policy := fast(t)
	created := func(prefix string) int {
		list, err := direct.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, cm := range list.Items {
			if strings.HasPrefix(cm.Name, prefix) {
				n++
			}
		}
		return n
	}
	lose := func() {
		plan(t, 1, map[string]any{"method": "POST", "path": "/configmaps$", "fault": "drop_after", "count": 1})
	}

	lose()
	n := 0
	err := k8sretry.Do(ctx, policy, func(ctx context.Context) error {
		n++
		_, err := faulted.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{GenerateName: "do-"}}, metav1.CreateOptions{})
		return err
	}, k8sretry.WithVerb(k8sretry.VerbPost))
	var e *k8sretry.Error
	if !errors.As(err, &e) || e.Reason != k8sretry.GiveUpNotIdempotent || e.Attempts != 1 || n != 1 || created("do-") != 1 {
		t.Fatalf("Do(WithVerb(VerbPost)) after a lost create: %v, %d calls, %d objects", err, n, created("do-"))
	}
	err = k8sretry.Do(ctx, policy, func(ctx context.Context) error {
		t.Fatal("Do ran fn without a verb")
		return nil
	})
	if !errors.Is(err, k8sretry.ErrNoVerb) {
		t.Fatalf("Do without a verb: %v", err)
	}

	wrapped, sent := crClient(t, k8sretry.WrapTransport(policy))
	if err := wrapped.List(ctx, &corev1.ConfigMapList{}, client.InNamespace(ns)); err != nil { // discovery first
		t.Fatal(err)
	}
	lose()
	sent.Store(0)
	err = wrapped.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, GenerateName: "cr-"}})
	var te *k8sretry.TransportError
	if !errors.As(err, &te) || !errors.As(err, &e) || e.Reason != k8sretry.GiveUpNotIdempotent || sent.Load() != 1 || created("cr-") != 1 {
		t.Fatalf("WrapTransport after a lost create: %v, %d sent, %d objects", err, sent.Load(), created("cr-"))
	}
	opsDone += 2
	plan(t, 1)
}
