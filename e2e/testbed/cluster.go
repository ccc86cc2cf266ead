package testbed

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Cluster is a real control plane on loopback: etcd, kube-apiserver with
// the aggregation layer's front proxy, and optionally the controller
// manager (Deployments, ReplicaSets and the HPA controller).
type Cluster struct {
	Dir        string
	URL        string
	Token      string
	Kubeconfig string
	Config     *rest.Config
	Client     kubernetes.Interface
	Dynamic    dynamic.Interface
	Bin        string

	Etcd, APIServer, ControllerManager *Process
	// FrontProxy is the aggregator's client certificate (CN
	// front-proxy-client): a server that forwards the aggregator's
	// requests presents it, so that the user they carry is believed.
	FrontProxy tls.Certificate
	// Router, when set, is the external metrics API shared by the
	// scenarios on this control plane (see StartMetricsRouter).
	Router *MetricsRouter
}

// ClusterOptions configures StartCluster.
type ClusterOptions struct {
	// ControllerManager also starts kube-controller-manager.
	ControllerManager bool
	// HPASyncPeriod is the HPA controller's sync period (default 5s).
	HPASyncPeriod time.Duration
}

// StartCluster starts a control plane and waits until it is ready.
func StartCluster(t T, o ClusterOptions) *Cluster {
	t.Helper()
	etcdBin := LookPath(t, "etcd")
	bin := KubeBinaries(t)
	dir := t.TempDir()
	c := &Cluster{Dir: dir, Bin: bin}

	clientPort, peerPort := FreePort(t), FreePort(t)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	c.Etcd = Start(t, etcdBin, "--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		fmt.Sprintf("--listen-peer-urls=http://127.0.0.1:%d", peerPort),
		fmt.Sprintf("--initial-advertise-peer-urls=http://127.0.0.1:%d", peerPort),
		fmt.Sprintf("--initial-cluster=default=http://127.0.0.1:%d", peerPort),
		"--log-level=warn")
	WaitHTTP(t, etcdURL+"/health", 30*time.Second, c.Etcd)

	tokenBytes := make([]byte, 16)
	_, _ = rand.Read(tokenBytes)
	c.Token = hex.EncodeToString(tokenBytes)
	tokens := WriteFile(t, dir, "tokens.csv", []byte(c.Token+",admin,admin,system:masters\n"))
	saKey, saPub := rsaKeyPair(t)
	saKeyFile, saPubFile := WriteFile(t, dir, "sa.key", saKey), WriteFile(t, dir, "sa.pub", saPub)
	fpCA := NewCA(t, "front-proxy-ca")
	fpCert, fpKey := fpCA.Issue(t, "front-proxy-client")
	fpPair, err := tls.X509KeyPair(fpCert, fpKey)
	if err != nil {
		t.Fatal(err)
	}
	c.FrontProxy = fpPair

	port := FreePort(t)
	c.URL = fmt.Sprintf("https://127.0.0.1:%d", port)
	c.APIServer = Start(t, filepath.Join(bin, "kube-apiserver"),
		"--etcd-servers="+etcdURL, "--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", port),
		"--advertise-address=127.0.0.1", "--token-auth-file="+tokens, "--authorization-mode=RBAC",
		"--service-account-key-file="+saPubFile, "--service-account-signing-key-file="+saKeyFile,
		"--service-account-issuer=https://kubernetes.default.svc", "--service-cluster-ip-range=10.96.0.0/16",
		"--cert-dir="+filepath.Join(dir, "apiserver-certs"),
		"--requestheader-client-ca-file="+WriteFile(t, dir, "fp-ca.crt", fpCA.CertPEM),
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file="+WriteFile(t, dir, "fp-client.crt", fpCert),
		"--proxy-client-key-file="+WriteFile(t, dir, "fp-client.key", fpKey),
		"--enable-priority-and-fairness=false",
	)
	c.Kubeconfig = WriteFile(t, dir, "kubeconfig", []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: %q, insecure-skip-tls-verify: true}
users:
- name: admin
  user: {token: %q}
contexts:
- name: local
  context: {cluster: local, user: admin}
current-context: local
`, c.URL, c.Token)))
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	c.Config = cfg
	c.Client = kubernetes.NewForConfigOrDie(cfg)
	c.Dynamic = dynamic.NewForConfigOrDie(cfg)
	Eventually(t, 90*time.Second, 250*time.Millisecond, func() (bool, string) {
		if c.APIServer.Exited() {
			t.Fatalf("kube-apiserver exited:\n%s", tail(c.APIServer.Output(), 4000))
		}
		body, err := c.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		return err == nil, fmt.Sprintf("kube-apiserver /readyz: %v %s", err, body)
	})
	if o.ControllerManager {
		if o.HPASyncPeriod == 0 {
			o.HPASyncPeriod = 5 * time.Second
		}
		c.ControllerManager = Start(t, filepath.Join(bin, "kube-controller-manager"),
			"--kubeconfig="+c.Kubeconfig,
			"--controllers=deployment,replicaset,horizontalpodautoscaling,garbagecollector,namespace,serviceaccount-token",
			"--service-account-private-key-file="+saKeyFile, "--root-ca-file="+filepath.Join(dir, "apiserver-certs", "apiserver.crt"),
			"--horizontal-pod-autoscaler-sync-period="+o.HPASyncPeriod.String(),
			"--leader-elect=false", "--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", FreePort(t)),
		)
	}
	return c
}

// Namespace creates a namespace and its default ServiceAccount.
func (c *Cluster) Namespace(t T, name string, labels map[string]string) {
	t.Helper()
	ctx := context.Background()
	_, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	_, err = c.Client.CoreV1().ServiceAccounts(name).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// ExternalMetricsServer registers an external metrics server listening on
// localhost:port: an ExternalName Service pointing at localhost (the
// aggregator then dials https://localhost:port) and the APIService
// v1beta1.external.metrics.k8s.io with the server's CA. The serving
// certificate must name service.namespace.svc.
func (c *Cluster) ExternalMetricsServer(t T, namespace, service string, port int, caPEM []byte) {
	t.Helper()
	ctx := context.Background()
	c.Namespace(t, namespace, nil)
	_, err := c.Client.CoreV1().Services(namespace).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: service},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "localhost",
			Ports: []corev1.ServicePort{{Name: "https", Port: int32(port)}}},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	apiService := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": "v1beta1.external.metrics.k8s.io"},
		"spec": map[string]any{
			"group": "external.metrics.k8s.io", "version": "v1beta1",
			"service":              map[string]any{"name": service, "namespace": namespace, "port": int64(port)},
			"caBundle":             base64.StdEncoding.EncodeToString(caPEM),
			"groupPriorityMinimum": int64(100), "versionPriority": int64(100),
		},
	}}
	gvr := schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}
	if _, err := c.Dynamic.Resource(gvr).Create(ctx, apiService, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// Raw GETs an API path with its query as admin, like kubectl get --raw.
func (c *Cluster) Raw(ctx context.Context, uri string) ([]byte, error) {
	return c.Client.Discovery().RESTClient().Get().RequestURI(uri).DoRaw(ctx)
}

// APIServiceStatus returns the conditions of an APIService, for messages.
func (c *Cluster) APIServiceStatus(ctx context.Context, name string) string {
	gvr := schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}
	obj, err := c.Dynamic.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err.Error()
	}
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	return fmt.Sprint(conds)
}
