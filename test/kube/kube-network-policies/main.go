// kube-network-policies, run as a host process next to the node agent: the upstream controller
// (sigs.k8s.io/kube-network-policies/pkg/networkpolicy) with a kubeconfig instead of the
// in-cluster config its own cmd insists on, and the nftables table name and queue number as
// flags, so one daemon per Node can share the one host network namespace.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"golang.org/x/sys/unix"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
	"sigs.k8s.io/kube-network-policies/pkg/networkpolicy"
)

func main() {
	kubeconfig := flag.String("kubeconfig", "", "kubeconfig of the API server")
	nodeName := flag.String("hostname-override", "", "the Node whose Pods this daemon enforces policies for")
	queueID := flag.Int("nfqueue-id", 100, "nfqueue number")
	table := flag.String("nftables-table", "kube-network-policies", "name of the inet table it owns")
	failOpen := flag.Bool("fail-open", false, "accept packets while no daemon reads the queue")
	klog.InitFlags(nil)
	flag.Parse()
	if *nodeName == "" {
		fmt.Fprintln(os.Stderr, "--hostname-override is required")
		os.Exit(2)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, unix.SIGTERM)
	defer cancel()

	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		klog.Fatalf("kubeconfig: %v", err)
	}
	config.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	config.ContentType = "application/vnd.kubernetes.protobuf"
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		klog.Fatalf("client: %v", err)
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	controller, err := networkpolicy.NewController(client,
		factory.Networking().V1().NetworkPolicies(), factory.Core().V1().Namespaces(), factory.Core().V1().Pods(),
		nil, nil, nil, nil,
		networkpolicy.Config{
			FailOpen:    *failOpen,
			QueueID:     *queueID,
			NodeName:    *nodeName,
			NFTableName: *table,
			// NRI stays on although no container runtime offers its socket (the plugin logs that it
			// cannot connect and Pod IPs come from the API only): with NRIdisabled, v0.8.0 leaves
			// its plugin nil and dereferences it for the first packet from an address no Pod has.
			// Upstream's default. Besides working around a conntrack race (fixed in Linux 6.12), it
			// is the only rule that evaluates pods' DNS queries here: CoreDNS is a host process, so
			// a query to it passes prerouting and input, never the postrouting chain.
			NetfilterBug1766Fix: true,
		})
	if err != nil {
		klog.Fatalf("controller: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- controller.Run(ctx) }()
	factory.Start(ctx.Done())
	select {
	case <-ctx.Done():
		// Run removes its table when its context ends.
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
	case err := <-done:
		klog.Errorf("controller stopped: %v", err)
		os.Exit(1)
	}
}
