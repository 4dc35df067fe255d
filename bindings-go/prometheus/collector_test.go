package prometheus

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	prom "github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	k8sretry "k8sretry.dev/go"
)

type unavailable struct{}

func (unavailable) Error() string { return "unavailable" }

// series flattens families into "name{a="x",b="y"}" -> value (histograms as _count and _sum).
func series(families []*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			key := f.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_UNTYPED:
				out[key] = m.GetUntyped().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[key+"_count"] = float64(m.GetHistogram().GetSampleCount())
				out[key+"_sum"] = m.GetHistogram().GetSampleSum()
				for _, b := range m.GetHistogram().GetBucket() {
					if math.IsInf(b.GetUpperBound(), 1) {
						continue // implicit in client_golang's histograms
					}
					out[fmt.Sprintf("%s_le_%g", key, b.GetUpperBound())] = float64(b.GetCumulativeCount())
				}
			}
		}
	}
	return out
}

// Registered with a real registry and gathered, the collector gives what MetricsText says.
func TestCollectorInARegistry(t *testing.T) {
	policy, err := k8sretry.PolicyFromJSON(`{"initial_delay": 0.001, "max_delay": 0.002, "budget": null}`)
	if err != nil {
		t.Fatal(err)
	}
	name := "prom \"test\" \\ call"
	n := 0
	err = k8sretry.Do(context.Background(), policy, func(context.Context) error {
		if n++; n < 3 {
			return apierrors.NewServiceUnavailable("restarting")
		}
		return nil
	}, k8sretry.WithVerb(k8sretry.VerbGet), k8sretry.WithName(name))
	if err != nil {
		t.Fatal(err)
	}
	_ = k8sretry.Do(context.Background(), policy, func(context.Context) error { return errors.New("bad") },
		k8sretry.WithVerb(k8sretry.VerbGet), k8sretry.WithName(name))
	once, err := k8sretry.PolicyFromJSON(`{"max_retries": 1, "initial_delay": 0.001, "budget": null}`)
	if err != nil {
		t.Fatal(err)
	}
	_ = k8sretry.Do(context.Background(), once, func(context.Context) error { return apierrors.NewServiceUnavailable("down") },
		k8sretry.WithVerb(k8sretry.VerbGet), k8sretry.WithName(name))

	reg := prom.NewRegistry()
	reg.MustRegister(NewCollector())
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := series(families)
	fn := fmt.Sprintf("function=%q", name)
	for key, want := range map[string]float64{
		`k8sretry_calls_total{` + fn + `,outcome="success_after_retry"}`:    1,
		`k8sretry_calls_total{` + fn + `,outcome="failed"}`:                 1,
		`k8sretry_retries_total{class="Transient",` + fn + `,status="503"}`: 3,
		`k8sretry_giveups_total{` + fn + `,reason="MaxRetries"}`:            1,
	} {
		if got[key] != want {
			t.Errorf("%s = %v, want %v", key, got[key], want)
		}
	}
	if got["k8sretry_retry_delay_seconds{}_count"] < 2 || got["k8sretry_retry_delay_seconds{}_sum"] <= 0 {
		t.Errorf("histogram: %v", got)
	}
	types := map[string]dto.MetricType{}
	for _, f := range families {
		types[f.GetName()] = f.GetType()
		if f.GetHelp() == "" {
			t.Errorf("%s has no help", f.GetName())
		}
	}
	if types["k8sretry_calls_total"] != dto.MetricType_COUNTER || types["k8sretry_retry_delay_seconds"] != dto.MetricType_HISTOGRAM || types["k8sretry_budget_tokens"] != dto.MetricType_GAUGE {
		t.Errorf("types %v", types)
	}

	// Every series of the text, read by prometheus/common's parser, is gathered with its value.
	var parser expfmt.TextParser
	text := k8sretry.MetricsText()
	parsed, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	var list []*dto.MetricFamily
	for _, f := range parsed {
		list = append(list, f)
	}
	want := series(list)
	// The text was read after Gather: only this test's calls changed nothing in between.
	for key, value := range want {
		if g, ok := got[key]; !ok || g != value {
			t.Errorf("%s: gathered %v (%v), text %v", key, g, ok, value)
		}
	}
	if len(got) != len(want) {
		t.Errorf("gathered %d series, the text has %d", len(got), len(want))
	}
}

// Unreadable text is reported by Gather as an error, never a panic.
func TestUnreadableTextIsAnError(t *testing.T) {
	reg := prom.NewRegistry()
	reg.MustRegister(&Collector{text: func() string {
		return "# TYPE x counter\nx{a=\"unterminated} 1\nx{a=\"b\"} 2\n"
	}})
	if _, err := reg.Gather(); err == nil {
		t.Fatal("no error")
	}
}
