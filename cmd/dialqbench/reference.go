package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/hibiken/asynq"
)

// reference is the yardstick of benchmark (a): the obvious implementation of
// the accept path. Gin binds the JSON body, two primary-key SELECTs load the
// assistant and the trunk, one INSERT stores the call, and asynq enqueues
// its task with a fresh TaskID; all three statements are prepared. No auth,
// no caching, no placeholder rendering, no phone-number parsing.
type reference struct {
	db        *sql.DB
	assistant *sql.Stmt
	trunk     *sql.Stmt
	insert    *sql.Stmt
	client    *asynq.Client
	queue     string
	engine    *gin.Engine
}

type referenceRequest struct {
	AssistantID string         `json:"assistant_id" binding:"required,uuid"`
	TrunkID     string         `json:"trunk_id" binding:"required"`
	ToNumber    string         `json:"to_number" binding:"required,e164"`
	CallService string         `json:"call_service" binding:"required,oneof=twilio exotel"`
	Metadata    map[string]any `json:"metadata"`
}

func newReference(ctx context.Context, dsn string, maxConns int, client *asynq.Client, queue string) (*reference, error) {
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	r := &reference{db: db, client: client, queue: queue}
	prep := func(dst **sql.Stmt, q string) {
		if err == nil {
			*dst, err = db.PrepareContext(ctx, q)
		}
	}
	prep(&r.assistant, `SELECT tenant_id, prompt, start_instruction, agent_name FROM assistants WHERE id = $1`)
	prep(&r.trunk, `SELECT provider, livekit_trunk_id FROM trunks WHERE id = $1`)
	prep(&r.insert, `INSERT INTO calls (id, tenant_id, assistant_id, trunk_id, to_number, call_service, metadata,
		prompt, start_instruction, agent_name, livekit_trunk_id, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'queued')`)
	if err != nil {
		db.Close()
		return nil, err
	}
	gin.SetMode(gin.ReleaseMode)
	r.engine = gin.New()
	r.engine.Use(gin.Recovery())
	r.engine.POST("/call/outbound", r.handle)
	return r, nil
}

func (r *reference) handle(c *gin.Context) {
	fail := func(status int, err error) { c.JSON(status, gin.H{"success": false, "message": err.Error()}) }
	var req referenceRequest
	if err := c.ShouldBindJSON(&req); err != nil {
		fail(http.StatusBadRequest, err)
		return
	}
	ctx := c.Request.Context()
	var tenantID, prompt, start, agent string
	err := r.assistant.QueryRowContext(ctx, req.AssistantID).Scan(&tenantID, &prompt, &start, &agent)
	if errors.Is(err, sql.ErrNoRows) {
		fail(http.StatusNotFound, errors.New("assistant not found"))
		return
	} else if err != nil {
		fail(http.StatusInternalServerError, err)
		return
	}
	var provider, lkTrunk string
	err = r.trunk.QueryRowContext(ctx, req.TrunkID).Scan(&provider, &lkTrunk)
	if errors.Is(err, sql.ErrNoRows) {
		fail(http.StatusNotFound, errors.New("trunk not found"))
		return
	} else if err != nil {
		fail(http.StatusInternalServerError, err)
		return
	}
	md, _ := json.Marshal(req.Metadata)
	if req.Metadata == nil {
		md = []byte("{}")
	}
	id := uuid.New()
	if _, err := r.insert.ExecContext(ctx, id, tenantID, req.AssistantID, req.TrunkID, req.ToNumber,
		req.CallService, md, prompt, start, agent, lkTrunk); err != nil {
		fail(http.StatusInternalServerError, err)
		return
	}
	payload, _ := json.Marshal(map[string]string{"call_id": id.String(), "tenant_id": tenantID})
	task := asynq.NewTask("call:dial", payload, asynq.TaskID(id.String()), asynq.Queue(r.queue))
	if _, err := r.client.EnqueueContext(ctx, task); err != nil {
		fail(http.StatusServiceUnavailable, err)
		return
	}
	c.Header("Location", "/call/"+id.String())
	c.JSON(http.StatusAccepted, gin.H{"success": true, "message": "Call accepted.",
		"data": gin.H{"call_id": id, "status": "queued", "created_at": time.Now().UTC()}})
}

func (r *reference) close() {
	r.assistant.Close()
	r.trunk.Close()
	r.insert.Close()
	r.db.Close()
}
