// Package httpgrpcwire carries httpgrpc messages (proto/httpgrpc.proto) without protoc: a gRPC codec
// that passes []byte through, and a hand encoder/decoder for HTTPRequest and HTTPResponse (protobuf
// wire format: varint keys, length-delimited fields). Used by the test peers and the bench's Go
// gateway, built offline from Debian's grpc-go in GOPATH mode.
package httpgrpcwire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"google.golang.org/grpc/encoding"
)

// Codec replaces the "proto" codec: messages are already-encoded bytes.
type Codec struct{}

func (Codec) Marshal(v interface{}) ([]byte, error) {
	switch t := v.(type) {
	case []byte:
		return t, nil
	case *[]byte:
		return *t, nil
	}
	return nil, fmt.Errorf("httpgrpcwire: cannot marshal %T", v)
}

func (Codec) Unmarshal(data []byte, v interface{}) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("httpgrpcwire: cannot unmarshal into %T", v)
	}
	*p = append((*p)[:0], data...)
	return nil
}

func (Codec) Name() string { return "proto" }

// Register installs Codec as the "proto" codec of this process.
func Register() { encoding.RegisterCodec(Codec{}) }

type Header struct {
	Key    string
	Values []string
}

type Request struct {
	Method, URL string
	Headers     []Header
	Body        []byte
}

type Response struct {
	Code    int
	Headers []Header
	Body    []byte
}

func appendBytes(b []byte, field int, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(field<<3|2))
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendHeaders(b []byte, field int, hs []Header) []byte {
	for _, h := range hs {
		var m []byte
		m = appendBytes(m, 1, []byte(h.Key))
		for _, v := range h.Values {
			m = appendBytes(m, 2, []byte(v))
		}
		b = appendBytes(b, field, m)
	}
	return b
}

func EncodeRequest(r *Request) []byte {
	b := make([]byte, 0, len(r.Body)+len(r.URL)+64)
	b = appendBytes(b, 1, []byte(r.Method))
	b = appendBytes(b, 2, []byte(r.URL))
	b = appendHeaders(b, 3, r.Headers)
	return appendBytes(b, 4, r.Body)
}

func EncodeResponse(r *Response) []byte {
	b := make([]byte, 0, len(r.Body)+32)
	b = binary.AppendUvarint(b, 1<<3)
	b = binary.AppendUvarint(b, uint64(r.Code))
	b = appendHeaders(b, 2, r.Headers)
	return appendBytes(b, 3, r.Body)
}

var errTruncated = errors.New("httpgrpcwire: truncated message")

// fields calls fn for each field: varint value, or length-delimited bytes.
func fields(b []byte, fn func(num int, v uint64, data []byte) error) error {
	for len(b) > 0 {
		key, n := binary.Uvarint(b)
		if n <= 0 {
			return errTruncated
		}
		b = b[n:]
		switch key & 7 {
		case 0:
			v, n := binary.Uvarint(b)
			if n <= 0 {
				return errTruncated
			}
			b = b[n:]
			if err := fn(int(key>>3), v, nil); err != nil {
				return err
			}
		case 2:
			l, n := binary.Uvarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return errTruncated
			}
			if err := fn(int(key>>3), 0, b[n:n+int(l)]); err != nil {
				return err
			}
			b = b[n+int(l):]
		default:
			return fmt.Errorf("httpgrpcwire: wire type %d", key&7)
		}
	}
	return nil
}

func decodeHeader(b []byte) (Header, error) {
	var h Header
	err := fields(b, func(num int, _ uint64, d []byte) error {
		switch num {
		case 1:
			h.Key = string(d)
		case 2:
			h.Values = append(h.Values, string(d))
		}
		return nil
	})
	return h, err
}

func DecodeRequest(b []byte) (*Request, error) {
	r := &Request{}
	err := fields(b, func(num int, _ uint64, d []byte) error {
		switch num {
		case 1:
			r.Method = string(d)
		case 2:
			r.URL = string(d)
		case 3:
			h, err := decodeHeader(d)
			if err != nil {
				return err
			}
			r.Headers = append(r.Headers, h)
		case 4:
			r.Body = d
		}
		return nil
	})
	return r, err
}

func DecodeResponse(b []byte) (*Response, error) {
	r := &Response{}
	err := fields(b, func(num int, v uint64, d []byte) error {
		switch num {
		case 1:
			r.Code = int(v)
		case 2:
			h, err := decodeHeader(d)
			if err != nil {
				return err
			}
			r.Headers = append(r.Headers, h)
		case 3:
			r.Body = d
		}
		return nil
	})
	return r, err
}
