// kube-controller-manager, built from the same k8s.io/kubernetes module as kube-apiserver. The
// control plane runs only the controllers an API client notices without nodes: garbage
// collection of dependents, namespace deletion and each namespace's default ServiceAccount.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
