# The two commands of the README.
.PHONY: up test

up:    ## install everything, start Neo4j, build the warehouse, show stats
	bash scripts/up.sh $(ARGS)

test:  ## install everything and run the whole test suite against a real Neo4j
	bash scripts/test.sh $(ARGS)
