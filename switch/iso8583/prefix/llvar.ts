// LLVAR: a 2-digit ASCII length (00-99), then the data.
import { asciiVarPrefixer } from './ascii-var.ts';

export const LLVAR = asciiVarPrefixer('LLVAR', 2);
