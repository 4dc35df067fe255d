// The demo workload: an app's config written through client-go with k8sretry's Go binding.
// Creates 20 ConfigMaps (read, labelled, every 4th deleted) and 5 generateName Secrets in
// $K8SRETRY_NAMESPACE of $KUBECONFIG; prints one JSON line. Run by `make demo` through the fault proxy.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	k8sretry "k8sretry.dev/go"
)

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "workload:", err)
		os.Exit(1)
	}
}

func main() {
	ctx, ns := context.Background(), os.Getenv("K8SRETRY_NAMESPACE")
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	must(err)
	cs := kubernetes.NewForConfigOrDie(cfg)
	// Short delays for a demo; the same policy in every language's workload.
	policy, err := k8sretry.PolicyFromJSON(`{"preset": "default", "max_retries": 6, "initial_delay": 0.2, "max_delay": 2}`)
	must(err)
	configMaps, secrets := cs.CoreV1().ConfigMaps(ns), cs.CoreV1().Secrets(ns)
	configMapOps := k8sretry.CreateOps[*corev1.ConfigMap]{
		Create: func(ctx context.Context, cm *corev1.ConfigMap) (*corev1.ConfigMap, error) {
			return configMaps.Create(ctx, cm, metav1.CreateOptions{})
		},
		Get: func(ctx context.Context, name string) (*corev1.ConfigMap, error) {
			return configMaps.Get(ctx, name, metav1.GetOptions{})
		},
	}
	secretOps := k8sretry.CreateOps[*corev1.Secret]{
		Create: func(ctx context.Context, s *corev1.Secret) (*corev1.Secret, error) {
			return secrets.Create(ctx, s, metav1.CreateOptions{})
		},
		List: func(ctx context.Context, selector string) ([]*corev1.Secret, error) {
			list, err := secrets.List(ctx, metav1.ListOptions{LabelSelector: selector})
			if err != nil {
				return nil, err
			}
			out := make([]*corev1.Secret, len(list.Items))
			for i := range list.Items {
				out[i] = &list.Items[i]
			}
			return out, nil
		},
	}
	operations, kept := 0, []string{}
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("app-config-%d", i)
		in := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"i": strconv.Itoa(i)}}
		_, err := k8sretry.CreateIdempotent(ctx, policy, in, configMapOps)
		must(err)
		must(k8sretry.Do(ctx, policy, func(ctx context.Context) error {
			_, err := configMaps.Get(ctx, name, metav1.GetOptions{})
			return err
		}, k8sretry.WithVerb(k8sretry.VerbGet)))
		must(k8sretry.Do(ctx, policy, func(ctx context.Context) error {
			_, err := configMaps.Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"labels":{"app":"demo"}}}`), metav1.PatchOptions{})
			return err
		}, k8sretry.WithVerb(k8sretry.VerbPatch)))
		operations += 3
		if i%4 == 0 {
			must(k8sretry.DeleteIdempotent(ctx, policy, false, func(ctx context.Context) error {
				return configMaps.Delete(ctx, name, metav1.DeleteOptions{})
			}))
			operations++
		} else {
			kept = append(kept, name)
		}
	}
	for i := 0; i < 5; i++ {
		_, err := k8sretry.CreateIdempotent(ctx, policy, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{GenerateName: "app-secret-"}}, secretOps)
		must(err)
		operations++
	}
	retries, recovered := 0.0, 0.0
	for _, line := range strings.Split(k8sretry.MetricsText(), "\n") {
		fields := strings.Fields(line)
		if len(fields) != 2 {
			continue
		}
		n, _ := strconv.ParseFloat(fields[1], 64)
		if strings.HasPrefix(line, "k8sretry_retries_total") {
			retries += n
		} else if strings.HasPrefix(line, "k8sretry_calls_total") && strings.Contains(line, `outcome="recovered"`) {
			recovered += n
		}
	}
	out, _ := json.Marshal(map[string]any{
		"operations": operations, "retries": retries, "recovered": recovered, "configmaps": kept, "secrets": 5,
	})
	fmt.Println(string(out))
}
