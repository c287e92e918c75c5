package localstack

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"

	kmsconfig "github.com/nsmithuk/local-kms/src/config"
	kmsdata "github.com/nsmithuk/local-kms/src/data"
	kmshandler "github.com/nsmithuk/local-kms/src/handler"
	"github.com/sirupsen/logrus"
)

// KMS for both stacks: local-kms (github.com/nsmithuk/local-kms), the KMS
// wire protocol (JSON 1.1, X-Amz-Target TrentService.<Action>) over a
// real listener on 127.0.0.1, served in this process from a LevelDB of its
// own in a temporary folder that Close removes. The functions' key rings
// are decrypted through it with the real KMS client, as in AWS.

// local-kms keeps its account and region in package variables: one per
// process, set by the first stack.
var kmsConfigOnce sync.Once

func (s *Stack) startKMS(o Options) error {
	kmsConfigOnce.Do(func() {
		kmsconfig.AWSAccountId = AccountID
		kmsconfig.AWSRegion = o.Region
	})
	if kmsconfig.AWSRegion != o.Region {
		return fmt.Errorf("kms: local-kms already serves region %s in this process, not %s", kmsconfig.AWSRegion, o.Region)
	}
	dir, err := os.MkdirTemp("", "pccc-kms-")
	if err != nil {
		return fmt.Errorf("kms: %w", err)
	}
	s.onClose(func() error { return os.RemoveAll(dir) })
	db := kmsdata.NewDatabase(dir)
	s.onClose(func() error { db.Close(); return nil })
	log := logrus.New()
	log.SetOutput(o.Log)
	log.SetLevel(logrus.WarnLevel)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("kms: listen: %w", err)
	}
	srv := &http.Server{Handler: kmsHandler(db, log)}
	go func() { _ = srv.Serve(ln) }()
	s.onClose(srv.Close)
	s.KMSEndpoint = "http://" + ln.Addr().String()
	return nil
}

// kmsHandler dispatches a KMS request to local-kms's handler method of
// the action's name.
func kmsHandler(db *kmsdata.Database, log *logrus.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.Contains(r.Header.Get("Content-Type"), "json") {
			http.Error(w, "KMS takes POST of JSON", http.StatusBadRequest)
			return
		}
		_, action, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		m := reflect.ValueOf(kmshandler.NewRequestHandler(r, log, db)).MethodByName(action)
		if action == "" || !m.IsValid() || m.Type().NumIn() != 0 || m.Type().NumOut() != 1 {
			w.WriteHeader(http.StatusNotImplemented)
			_, _ = io.WriteString(w, `{"__type":"UnsupportedOperationException","message":"not served by the local KMS"}`)
			return
		}
		resp, ok := m.Call(nil)[0].Interface().(kmshandler.Response)
		if !ok {
			http.Error(w, "local KMS: unexpected answer", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(resp.Code)
		_, _ = io.WriteString(w, resp.Body)
	})
}
