package zmqk8s_test

import (
	"context"
	"fmt"

	zmqk8s "github.com/zmqkit/zmqkit/contrib/k8s"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// A Service "workers" in namespace "zmq" with two ready pods and one that
// is not: Watch reports the two, on the port named "work". In a pod the
// client comes from rest.InClusterConfig and kubernetes.NewForConfig, and
// a socket given the resolver under the scheme "k8s" calls Watch itself
// when it dials k8s://zmq/workers:work.
func ExampleResolver_Watch() {
	name, port := "work", int32(5555)
	ready, notReady := true, false
	client := fake.NewClientset(&discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "workers-abc12", Namespace: "zmq",
			Labels: map[string]string{discoveryv1.LabelServiceName: "workers"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: &name, Port: &port}},
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.0.0.7"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}},
			{Addresses: []string{"10.0.0.8"}, Conditions: discoveryv1.EndpointConditions{Ready: &notReady}},
			{Addresses: []string{"10.0.0.9"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}},
		},
	})
	r := zmqk8s.NewResolver(client)

	ctx, cancel := context.WithCancel(context.Background())
	err := r.Watch(ctx, "zmq/workers:work", nil, func(endpoints []string, err error) {
		fmt.Println(endpoints, err)
		cancel() // one report is enough here; a socket watches until it closes
	})
	fmt.Println("watch ended:", err)
	// Output:
	// [tcp://10.0.0.7:5555 tcp://10.0.0.9:5555] <nil>
	// watch ended: <nil>
}
