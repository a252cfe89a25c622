// kube-router's network policy controller alone, run as a host process next to the node agent:
// github.com/cloudnativelabs/kube-router/v2/pkg/controllers/netpol (iptables + ipset), wired like
// upstream's pkg/cmd (same flags: --kubeconfig, --hostname-override, --service-cluster-ip-range, ...)
// with two differences of our own:
//
//   - --namespace scopes the Pod and NetworkPolicy informers to one namespace, so a test run on the
//     shared cluster enforces policies only for its own Pods (empty: every namespace, upstream's
//     behaviour). Namespaces stay cluster-wide (namespaceSelector).
//   - on SIGTERM/SIGINT it stops the controller and then runs the controller's own Cleanup(), which
//     removes every iptables chain and ipset it made. Upstream's --cleanup-config cannot: in v2.1.0
//     it calls Cleanup() on a zero-value controller whose iptables and ipset handler maps are nil.
//
// One daemon enforces for every Pod here: the controller's "local" Pods are those whose
// status.hostIP is its Node's InternalIP, and the three Nodes share one network namespace and
// report the same InternalIP.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/cloudnativelabs/kube-router/v2/pkg/controllers/netpol"
	"github.com/cloudnativelabs/kube-router/v2/pkg/healthcheck"
	"github.com/cloudnativelabs/kube-router/v2/pkg/options"
	"github.com/spf13/pflag"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "kube-router-netpol: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	klog.InitFlags(nil)
	config := options.NewKubeRouterConfig()
	config.AddFlags(pflag.CommandLine)
	namespace := pflag.String("namespace", "", "enforce only for Pods and NetworkPolicies of this namespace (empty: all)")
	pflag.Parse()
	if err := flag.Set("logtostderr", "true"); err != nil {
		return err
	}
	if err := flag.Set("v", config.VLevel); err != nil {
		return err
	}
	if config.HelpRequested {
		pflag.Usage()
		return nil
	}
	if config.RunRouter || config.RunServiceProxy || !config.RunFirewall {
		return fmt.Errorf("this build runs only the firewall: pass --run-firewall=true --run-router=false --run-service-proxy=false")
	}
	if config.Kubeconfig == "" || config.HostnameOverride == "" {
		return fmt.Errorf("--kubeconfig and --hostname-override are required")
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("needs root for iptables and ipset")
	}

	restConfig, err := clientcmd.BuildConfigFromFlags(config.Master, config.Kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	cluster := informers.NewSharedInformerFactory(client, 0)
	scoped := cluster
	if *namespace != "" {
		scoped = informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(*namespace))
	}
	podInformer := scoped.Core().V1().Pods().Informer()
	npInformer := scoped.Networking().V1().NetworkPolicies().Informer()
	nsInformer := cluster.Core().V1().Namespaces().Informer()

	iptablesHandlers, ipsetHandlers, err := netpol.NewIPTablesHandlers(config)
	if err != nil {
		return fmt.Errorf("iptables handlers: %w", err)
	}
	var ipsetMutex sync.Mutex
	npc, err := netpol.NewNetworkPolicyController(client, config, podInformer, npInformer, nsInformer,
		&ipsetMutex, iptablesHandlers, ipsetHandlers)
	if err != nil {
		return fmt.Errorf("network policy controller: %w", err)
	}
	if _, err := podInformer.AddEventHandler(npc.PodEventHandler); err != nil {
		return err
	}
	if _, err := nsInformer.AddEventHandler(npc.NamespaceEventHandler); err != nil {
		return err
	}
	if _, err := npInformer.AddEventHandler(npc.NetworkPolicyEventHandler); err != nil {
		return err
	}

	stopCh := make(chan struct{})
	cluster.Start(stopCh)
	scoped.Start(stopCh)
	synced := make(chan struct{})
	go func() {
		cluster.WaitForCacheSync(stopCh)
		scoped.WaitForCacheSync(stopCh)
		close(synced)
	}()
	select {
	case <-synced:
	case <-time.After(config.CacheSyncTimeout):
		close(stopCh)
		return fmt.Errorf("informer caches not synced after %s", config.CacheSyncTimeout)
	}

	// The controller reports a heartbeat after each sync; upstream's health controller reads them.
	health := make(chan *healthcheck.ControllerHeartbeat, 10)
	go func() {
		for range health {
		}
	}()
	var wg sync.WaitGroup
	wg.Add(1)
	go npc.Run(health, stopCh, &wg)

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	<-signals
	signal.Reset()
	klog.Info("stopping the network policy controller")
	close(stopCh)
	wg.Wait()
	npc.Cleanup()
	return nil
}
