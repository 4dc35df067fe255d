// The README's Go example as a whole program: reads namespace "default" of $KUBECONFIG's cluster
// through k8sretry.Do. `make test-readme` checks that the README's block is a verbatim part of it.
package main

import (
	"context"
	"fmt"
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	k8sretry "k8sretry.dev/go"
)

func main() {
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))
	if err != nil {
		panic(err)
	}
	clientset, ctx := kubernetes.NewForConfigOrDie(cfg), context.Background()
	policy, _ := k8sretry.Preset("default")
	err = k8sretry.Do(ctx, policy, func(ctx context.Context) error {
		_, err := clientset.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
		return err
	}, k8sretry.WithVerb(k8sretry.VerbGet))
	if err != nil {
		fmt.Println("gave up:", err)
		os.Exit(1)
	}
	fmt.Println("namespace default read through k8sretry")
}
