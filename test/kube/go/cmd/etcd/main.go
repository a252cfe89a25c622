// Command etcd is etcd's own server main, built at the version Kubernetes itself requires.
// Debian's etcd 3.4 is too old for current API servers; this is the upstream server, unchanged.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
