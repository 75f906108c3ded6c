"""Response of edited keys to other prompts: how specific an answer-start edit is, per layer and metric.

Run: ``.venv/bin/python benchmarks/key_response.py 6,12,19,24`` (reads ../shared/data/upqa).
For 10 UPQA items, u = M⁻¹k* for the explicit question's key; prints the mean |uᵀk|/|uᵀk*| over
the 20 unrelated probe prompts and the mean ratio for the item's own paraphrased, implicit and
recommendation questions, for M = I, C, C + 10·K0 and C + 100·K0.
"""
import torch, sys
from prefedit.bench.probes import unrelated_prompts
from prefedit.models import load_model, chat_prompt
from prefedit.editing.base import EditRequest
from prefedit.editing.values import keys_at
from prefedit.editing.stats import key_second_moment, answer_start_keys
from prefedit.preferences import load_preferences
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
lm=load_model(); tok=lm.tokenizer
items=load_preferences(ROOT.parent / 'shared/data/upqa/balanced_subset.json')[::10]
unrel=unrelated_prompts()
def K(L, qs): return keys_at(lm, lm.arch.module("mlp_out",L), [EditRequest(prompt=chat_prompt(tok,q),target="x") for q in qs], ("",))
for L in [int(x) for x in sys.argv[1].split(",")]:
    C=key_second_moment(lm,[L])[L].double(); K0=answer_start_keys(lm,L).double()
    Ku=K(L,unrel).double()
    Ke=K(L,[p.questions["explicit"] for p in items]).double()
    Kp=K(L,[p.questions["paraphrased"] for p in items]).double()
    Ki=K(L,[p.questions["implicit"] for p in items]).double()
    Kr=K(L,[p.questions["recommendation"] for p in items]).double()
    d=C.shape[0]; I=torch.eye(d,dtype=torch.float64)
    for name,M in [("I",I),("C",C+1e-3*C.diagonal().mean()*I),("C+10K0",C+10*K0.T@K0/len(K0)+1e-3*C.diagonal().mean()*I),("C+100K0",C+100*K0.T@K0/len(K0)+1e-3*C.diagonal().mean()*I)]:
        U=torch.linalg.solve(M, Ke.T).T  # [n,d]
        den=(U*Ke).sum(1)
        r=lambda Kx: ((U@Kx.T)/den[:,None])
        ru=r(Ku).abs().mean().item()
        rp=torch.diagonal(r(Kp)).mean().item(); ri=torch.diagonal(r(Ki)).mean().item(); rr=torch.diagonal(r(Kr)).mean().item()
        print(L,name,f"unrel|r|={ru:.3f} para={rp:.3f} impl={ri:.3f} rec={rr:.3f}", flush=True)
