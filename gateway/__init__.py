"""The gRPC gateway: validate, assemble features, fan out to classifiers under one deadline,
decide with the policy engine, answer, and log every decision."""
