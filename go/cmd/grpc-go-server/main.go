// A grpc-go httpgrpc server, as Mimir's distributors are: /httpgrpc.HTTP/Handle answers 200 with
// "grpc-go <url> <body bytes>" and echoes the body for /echo. -max-connection-age sets
// keepalive.ServerParameters.MaxConnectionAge (mimir-distributed: grpc_server_max_connection_age).
// Prints "PORT <n>" once listening; exits when stdin closes.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"metricsgw/httpgrpcwire"
)

func handle(_ interface{}, _ context.Context, dec func(interface{}) error, _ grpc.UnaryServerInterceptor) (interface{}, error) {
	var in []byte
	if err := dec(&in); err != nil {
		return nil, err
	}
	req, err := httpgrpcwire.DecodeRequest(in)
	if err != nil {
		return nil, err
	}
	body := []byte(fmt.Sprintf("grpc-go %s %d", req.URL, len(req.Body)))
	if strings.HasPrefix(req.URL, "/echo") {
		body = req.Body
	}
	return httpgrpcwire.EncodeResponse(&httpgrpcwire.Response{
		Code:    200,
		Headers: []httpgrpcwire.Header{{Key: "X-Peer", Values: []string{"grpc-go"}}},
		Body:    body,
	}), nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	age := flag.Duration("max-connection-age", 0, "MaxConnectionAge (0: none)")
	grace := flag.Duration("max-connection-age-grace", 10*time.Second, "MaxConnectionAgeGrace")
	maxMsg := flag.Int("max-msg-bytes", 100<<20, "max receive/send message size")
	flag.Parse()
	httpgrpcwire.Register()
	opts := []grpc.ServerOption{grpc.MaxRecvMsgSize(*maxMsg), grpc.MaxSendMsgSize(*maxMsg)}
	if *age > 0 {
		opts = append(opts, grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionAge: *age, MaxConnectionAgeGrace: *grace}))
	}
	s := grpc.NewServer(opts...)
	s.RegisterService(&grpc.ServiceDesc{
		ServiceName: "httpgrpc.HTTP",
		HandlerType: (*interface{})(nil),
		Methods:     []grpc.MethodDesc{{MethodName: "Handle", Handler: handle}},
	}, struct{}{})
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("PORT %d\n", lis.Addr().(*net.TCPAddr).Port)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		s.Stop()
		os.Exit(0)
	}()
	_ = s.Serve(lis)
}
