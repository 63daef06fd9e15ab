/** argon2id at OWASP's parameters (m = 19 MiB, t = 2, p = 1). */
import { hash, verify } from "@node-rs/argon2";

const OWASP = { memoryCost: 19_456, timeCost: 2, parallelism: 1, algorithm: 2 /* argon2id */ };

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hashed: string, password: string): Promise<boolean>;
}

export const argon2id: PasswordHasher = {
  hash: (password) => hash(password, OWASP),
  verify: async (hashed, password) => {
    try {
      return await verify(hashed, password);
    } catch {
      return false;
    }
  },
};

/** Verified against when the email is unknown, so both failures take the same time. */
export const DUMMY_HASH =
  "$argon2id$v=19$m=19456,t=2,p=1$nEGLTXYdb0Gvg51BKhcJNQ$uc2FiKGEIyTz8bHUhdmruBwTu5U0ED24HwROR7SgplI";
