// Package prometheus exposes libk8sretry's metrics (k8sretry.MetricsText: calls, retries,
// give-ups, the retry delay histogram, budget tokens, open breakers) to client_golang:
//
//	import k8sretryprom "k8sretry.dev/go/prometheus"
//
//	prometheus.MustRegister(k8sretryprom.NewCollector())
//	// controller-runtime: metrics.Registry.MustRegister(k8sretryprom.NewCollector())
//
// It is a module of its own (k8sretry.dev/go/prometheus), so that k8sretry.dev/go does not
// depend on client_golang.
package prometheus

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	prom "github.com/prometheus/client_golang/prometheus"
	k8sretry "k8sretry.dev/go"
)

// Collector is a prometheus.Collector over k8sretry's metrics. It is unchecked (Describe sends
// nothing): the label values appear as calls are made.
type Collector struct {
	text func() string
}

// NewCollector returns a collector of the metrics of this process's k8sretry calls.
func NewCollector() *Collector { return &Collector{text: k8sretry.MetricsText} }

// Describe sends nothing: an unchecked collector.
func (c *Collector) Describe(chan<- *prom.Desc) {}

// Collect reads the metrics and sends them as constant metrics.
func (c *Collector) Collect(ch chan<- prom.Metric) {
	for _, m := range parse(c.text()) {
		ch <- m
	}
}

// family is one metric family of the text exposition.
type family struct {
	name, help, kind string
	samples          []sample
}

type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// parse reads the Prometheus text exposition format that libk8sretry writes (HELP, TYPE, samples
// with escaped label values; histograms as _bucket/_sum/_count) into constant metrics. A line it
// cannot read becomes an invalid metric, which the registry reports, instead of a panic.
//
// Not prometheus/common's expfmt: its TextParser changed incompatibly (the zero value panics from
// v0.66, NewTextParser does not exist before), so either choice breaks some users' builds.
func parse(text string) []prom.Metric {
	families := map[string]*family{}
	var order []string
	get := func(name string) *family {
		f, ok := families[name]
		if !ok {
			f = &family{name: name, kind: "untyped"}
			families[name] = f
			order = append(order, name)
		}
		return f
	}
	var out []prom.Metric
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "# HELP "):
			name, help, _ := strings.Cut(strings.TrimPrefix(line, "# HELP "), " ")
			get(name).help = strings.NewReplacer(`\\`, `\`, `\n`, "\n").Replace(help)
		case strings.HasPrefix(line, "# TYPE "):
			name, kind, _ := strings.Cut(strings.TrimPrefix(line, "# TYPE "), " ")
			get(name).kind = kind
		case strings.HasPrefix(line, "#"):
		default:
			s, err := parseSample(line)
			if err != nil {
				out = append(out, prom.NewInvalidMetric(prom.NewDesc("k8sretry_unreadable", line, nil, nil), err))
				continue
			}
			owner := s.name
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				base := strings.TrimSuffix(s.name, suffix)
				if f, ok := families[base]; ok && base != s.name && (f.kind == "histogram" || f.kind == "summary") {
					owner = base
				}
			}
			get(owner).samples = append(get(owner).samples, s)
		}
	}
	for _, name := range order {
		out = append(out, families[name].metrics()...)
	}
	return out
}

func (f *family) metrics() []prom.Metric {
	var out []prom.Metric
	if f.kind == "histogram" {
		type series struct {
			labels     map[string]string
			buckets    map[float64]uint64
			sum        float64
			count      uint64
			hasCount   bool
			labelNames []string
		}
		byKey := map[string]*series{}
		var keys []string
		for _, s := range f.samples {
			labels := map[string]string{}
			for k, v := range s.labels {
				if k != "le" {
					labels[k] = v
				}
			}
			key := labelKey(labels)
			h, ok := byKey[key]
			if !ok {
				h = &series{labels: labels, buckets: map[float64]uint64{}}
				byKey[key] = h
				keys = append(keys, key)
			}
			switch s.name {
			case f.name + "_bucket":
				le, err := strconv.ParseFloat(s.labels["le"], 64)
				if err == nil && le != inf {
					h.buckets[le] = uint64(s.value)
				}
			case f.name + "_sum":
				h.sum = s.value
			case f.name + "_count":
				h.count, h.hasCount = uint64(s.value), true
			}
		}
		for _, key := range keys {
			h := byKey[key]
			names, values := split(h.labels)
			m, err := prom.NewConstHistogram(prom.NewDesc(f.name, f.help, names, nil), h.count, h.sum, h.buckets, values...)
			if err == nil && !h.hasCount {
				err = fmt.Errorf("no %s_count", f.name)
			}
			out = append(out, metricOrInvalid(m, err, f))
		}
		return out
	}
	valueType := map[string]prom.ValueType{"counter": prom.CounterValue, "gauge": prom.GaugeValue}[f.kind]
	if valueType == 0 {
		valueType = prom.UntypedValue
	}
	for _, s := range f.samples {
		names, values := split(s.labels)
		m, err := prom.NewConstMetric(prom.NewDesc(s.name, f.help, names, nil), valueType, s.value, values...)
		out = append(out, metricOrInvalid(m, err, f))
	}
	return out
}

var inf, _ = strconv.ParseFloat("+Inf", 64)

func metricOrInvalid(m prom.Metric, err error, f *family) prom.Metric {
	if err != nil {
		return prom.NewInvalidMetric(prom.NewDesc(f.name, f.help, nil, nil), err)
	}
	return m
}

func split(labels map[string]string) (names, values []string) {
	for k := range labels {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		values = append(values, labels[k])
	}
	return names, values
}

func labelKey(labels map[string]string) string {
	names, values := split(labels)
	var b strings.Builder
	for i := range names {
		fmt.Fprintf(&b, "%s=%q,", names[i], values[i])
	}
	return b.String()
}

// parseSample reads `name{label="value",...} value [timestamp]`.
func parseSample(line string) (sample, error) {
	s := sample{labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i <= 0 {
		return s, fmt.Errorf("no value: %q", line)
	}
	s.name, line = line[:i], line[i:]
	if line[0] == '{' {
		line = line[1:]
		for {
			line = strings.TrimLeft(line, " ,")
			if strings.HasPrefix(line, "}") {
				line = line[1:]
				break
			}
			eq := strings.Index(line, `="`)
			if eq <= 0 {
				return s, fmt.Errorf("bad labels in %q", s.name)
			}
			key := strings.TrimSpace(line[:eq])
			line = line[eq+2:]
			var value strings.Builder
			closed := false
			for j := 0; j < len(line); j++ {
				c := line[j]
				if c == '\\' && j+1 < len(line) {
					j++
					switch line[j] {
					case 'n':
						value.WriteByte('\n')
					default:
						value.WriteByte(line[j])
					}
					continue
				}
				if c == '"' {
					line, closed = line[j+1:], true
					break
				}
				value.WriteByte(c)
			}
			if !closed {
				return s, fmt.Errorf("unterminated label value in %q", s.name)
			}
			s.labels[key] = value.String()
		}
	}
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return s, fmt.Errorf("no value for %q", s.name)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return s, fmt.Errorf("value of %q: %w", s.name, err)
	}
	s.value = v
	return s, nil
}
