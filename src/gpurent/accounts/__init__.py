"""Organizations (customers and the operator), their users, API tokens and roles."""
