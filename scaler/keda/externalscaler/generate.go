// Package externalscaler is the Go code protoc generates from KEDA's
// externalscaler.proto (checked in beside it): the ExternalScaler gRPC
// service and its messages. Do not edit the .pb.go files; change the
// proto (only to follow KEDA's) and run go generate.
package externalscaler

//go:generate protoc -I . --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative externalscaler.proto
