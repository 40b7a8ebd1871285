// A Go httpgrpc gateway built the way GEM's is, for the bench to measure ours against: a net/http
// server, one grpc-go ClientConn to a dns:/// target with round_robin, and one unary
// /httpgrpc.HTTP/Handle call per HTTP request (the request read whole, as httpgrpc needs). /ready is
// 200 at once: the bench warms every target up before it measures.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"metricsgw/httpgrpcwire"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "HTTP listen address")
	target := flag.String("target", "", "gRPC target, e.g. dns://127.0.0.1:5353/distributor.bench:9095")
	timeout := flag.Duration("timeout", 30*time.Second, "per-request deadline")
	flag.Parse()
	httpgrpcwire.Register()
	conn, err := grpc.Dial(*target, grpc.WithInsecure(),
		grpc.WithDefaultServiceConfig(`{"loadBalancingConfig":[{"round_robin":{}}]}`),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(100<<20), grpc.MaxCallSendMsgSize(100<<20)))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ready" {
			w.WriteHeader(200)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		req := &httpgrpcwire.Request{Method: r.Method, URL: r.RequestURI, Body: body}
		for k, vs := range r.Header {
			req.Headers = append(req.Headers, httpgrpcwire.Header{Key: k, Values: vs})
		}
		ctx, cancel := context.WithTimeout(r.Context(), *timeout)
		defer cancel()
		if org := r.Header.Get("X-Scope-OrgID"); org != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "x-scope-orgid", org)
		}
		var out []byte
		if err := conn.Invoke(ctx, "/httpgrpc.HTTP/Handle", httpgrpcwire.EncodeRequest(req), &out); err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		resp, err := httpgrpcwire.DecodeResponse(out)
		if err != nil {
			http.Error(w, err.Error(), 502)
			return
		}
		for _, h := range resp.Headers {
			for _, v := range h.Values {
				w.Header().Add(h.Key, v)
			}
		}
		w.WriteHeader(resp.Code)
		_, _ = w.Write(resp.Body)
	})
	srv := &http.Server{Addr: *listen, Handler: handler}
	if err := srv.ListenAndServe(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
