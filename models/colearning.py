"""Co-learning with privileged information: a teacher that sees a modality only available at
training time (the RAM) teaches a student that sees only the frame.

Hinton et al. 2015, "Distilling the Knowledge in a Neural Network", and Lopez-Paz et al. 2016,
"Unifying Distillation and Privileged Information" (generalised distillation: the teacher is
trained on the privileged features x*, the student imitates its softened outputs on x).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                      targets: torch.Tensor, temperature: float = 4.0, alpha: float = 0.5
                      ) -> torch.Tensor:
    """(1 - alpha) * CE(student, targets) + alpha * T^2 * KL(teacher_T || student_T).

    Shapes: logits (B, C), targets (B,) int -> scalar. The T^2 factor keeps the soft term's
    gradients on the scale of the hard term's as T changes (Hinton et al.). alpha 0 is plain
    supervised training; the teacher receives no gradient.
    """
    if student_logits.shape != teacher_logits.shape or student_logits.dim() != 2:
        raise ValueError(f"logits must be two (B, C) tensors of one shape, got "
                         f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}")
    if temperature <= 0 or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"need temperature > 0 and 0 <= alpha <= 1, got {temperature}, {alpha}")
    hard = F.cross_entropy(student_logits, targets.long())
    soft = F.kl_div(F.log_softmax(student_logits / temperature, dim=1),
                    F.log_softmax(teacher_logits.detach() / temperature, dim=1),
                    log_target=True, reduction="batchmean")
    return (1.0 - alpha) * hard + alpha * temperature**2 * soft
