package oauth

import (
	"context"
	"net/http"
	"time"

	"github.com/authd/authd/internal/httpx"
)

// HealthCheck is one dependency /readyz checks.
type HealthCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	out, status := map[string]string{}, http.StatusOK
	for _, h := range s.health {
		if err := h.Check(ctx); err != nil {
			out[h.Name], status = "unavailable", http.StatusServiceUnavailable
		} else {
			out[h.Name] = "ok"
		}
	}
	httpx.WriteJSON(w, status, out)
}
