# Copy to instance/config.py and adjust. Environment variables ACCOUNT_<NAME> win over it.
# DATABASE_URL = "postgresql://account@127.0.0.1:5432/account"
# JWT_SECRET = "<at least 32 random bytes, e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))'>"
ENV_ID = "local"
BCRYPT_ROUNDS = 12
