# Local dev stack (PostgreSQL, Redis, livekit-server on 127.0.0.1); see deploy/stack.sh.
# Included from the root Makefile: include deploy/Makefile.stack.mk
# State lives in .dialq/ (override DIALQ_STATE_DIR); ports via DIALQ_*_PORT.

# Keep whatever default goal the including Makefile has (or will define next):
# these targets must never become the default goal by being included first.
_stack_saved_default_goal := $(.DEFAULT_GOAL)

STACK_SH := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))stack.sh)

.PHONY: up down stack-status stack-env tools

up: ## start postgres, redis and livekit-server (installs missing tools first)
	bash $(STACK_SH) up

down: ## stop the local stack (by pid files)
	bash $(STACK_SH) down

stack-status: ## one line per service
	bash $(STACK_SH) status

stack-env: ## print the exports for the running stack: eval "$(make -s stack-env)"
	@bash $(STACK_SH) env

tools: ## install missing apt packages and livekit-server
	bash $(STACK_SH) tools

.DEFAULT_GOAL := $(_stack_saved_default_goal)
