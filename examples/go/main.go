// A call that meets 503 twice, then succeeds, retried by k8sretry.Do.
// Run: make go-lib (places the static libk8sretry in bindings-go), then go run .
package main

import (
	"context"
	"fmt"
	"os"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	k8sretry "k8sretry.dev/go"
)

func main() {
	policy, err := k8sretry.PolicyFromJSON(`{"preset": "default", "initial_delay": 0.2}`)
	if err != nil {
		panic(err)
	}
	k8sretry.SetEventHandler(func(e k8sretry.Event) {
		fmt.Printf("event %s attempt=%d status=%d delay=%.2fs\n", e.Name, e.Attempt, e.StatusCode, e.DelaySeconds)
	})
	attempt := 0
	err = k8sretry.Do(context.Background(), policy, func(ctx context.Context) error {
		attempt++
		if attempt <= 2 { // what client-go returns while the apiserver restarts
			return apierrors.NewServiceUnavailable("apiserver restarting")
		}
		fmt.Printf("attempt %d: read pod web-0\n", attempt)
		return nil
	}, k8sretry.WithName("read_pod"), k8sretry.WithVerb(k8sretry.VerbGet))
	if err != nil {
		fmt.Println("gave up:", err)
		os.Exit(1)
	}
	fmt.Printf("succeeded after %d attempts (libk8sretry %s)\n", attempt, k8sretry.Version())
}
